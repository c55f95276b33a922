/**
 * One connection's way of running virsh: its URI, binary and timeout, one call (`run`,
 * `raw`) or a batch of commands in one process (`batch`), and refusal once the connection is
 * closed. LibvirtConnection (connection.ts) makes the typed calls on top; the migration
 * (migrate.ts) and volume transfers (volumes.ts) use it directly.
 */
import { randomBytes } from 'node:crypto';
import { NestboxError } from '../api/errors';
import { splitBatch } from './parse';
import { checkUri, hostOfUri, runVirsh, runVirshRaw, virshError, type VirshOptions, type VirshResult } from './virsh';

export class VirshSession {
  readonly uri: string;
  /** The host as messages name it. */
  readonly host: string;
  private closed = false;

  constructor(
    uri: string,
    readonly virsh: string,
    readonly timeoutMs: number,
  ) {
    this.uri = checkUri(uri);
    this.host = hostOfUri(uri) || 'this computer';
  }

  opts(extra: Partial<VirshOptions> = {}): VirshOptions {
    if (this.closed) throw new NestboxError('INVALID_STATE', `the connection to ${this.host} is closed`);
    return { virsh: this.virsh, uri: this.uri, timeoutMs: this.timeoutMs, ...extra };
  }

  /** One virsh call; a failure is an error naming the host and `what`. */
  run(args: readonly string[], what: string, extra: Partial<VirshOptions> = {}): Promise<string> {
    return runVirsh(this.opts(extra), args, what);
  }

  /** One virsh call whose exit code the caller reads itself. */
  raw(args: readonly string[], what: string, extra: Partial<VirshOptions> = {}): Promise<VirshResult> {
    return runVirshRaw(this.opts(extra), args, what);
  }

  /** Several virsh commands in one process; each section is keyed after its marker. */
  async batch(items: readonly { key: string; commands: readonly string[] }[], what: string, extra: Partial<VirshOptions> = {}): Promise<Map<string, string>> {
    if (items.length === 0) return new Map();
    const nonce = randomBytes(8).toString('hex');
    const script = items.map((it) => [`echo @@NB-${nonce}@@ ${it.key} @@`, ...it.commands].join(' ; ')).join(' ; ') + ` ; echo @@NB-${nonce}@@ 0 @@`;
    const r = await runVirshRaw(this.opts({ timeoutMs: Math.max(this.timeoutMs, 60_000), ...extra }), [script], what);
    if (r.code !== 0 && !r.stdout.includes(`@@NB-${nonce}@@`)) throw virshError(this.uri, what, r.stderr);
    return splitBatch(r.stdout, nonce);
  }

  /** Every later call is refused. */
  close(): void {
    this.closed = true;
  }
}
