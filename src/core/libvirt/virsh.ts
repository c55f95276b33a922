/**
 * Running `virsh`, libvirt's own client: it already speaks every transport (unix socket, SSH,
 * TLS, TCP), authenticates and keeps the connection alive, so Nestbox never implements
 * libvirt's wire protocol. Always an argv array (never a shell), `-c URI`, `LC_ALL=C` (the
 * parsers read English), a timeout and a cap on what is read back: a host is untrusted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { NestboxError, type ErrorCode } from '../api/errors';

export interface VirshOptions {
  readonly virsh: string;
  readonly uri: string;
  readonly timeoutMs: number;
  /** Cap on stdout (bytes); more is an error, not a truncation. */
  readonly maxBytes?: number;
  readonly input?: string;
  readonly signal?: AbortSignal;
}

export const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/**
 * The URI as libvirt takes it, refused early when it could be mistaken for an option or
 * carries control characters: the host is named in every message, so it must print.
 */
export function checkUri(uri: string): string {
  if (typeof uri !== 'string' || uri.length === 0) throw new NestboxError('INVALID_ARGUMENT', 'a libvirt URI is required (e.g. qemu+ssh://user@host/system)');
  if (uri.length > 2048) throw new NestboxError('INVALID_ARGUMENT', 'the libvirt URI is longer than 2048 characters');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(uri)) throw new NestboxError('INVALID_ARGUMENT', `the libvirt URI '${JSON.stringify(uri).slice(1, -1)}' contains spaces or control characters`);
  if (!/^[a-z][a-z0-9]*(\+[a-z0-9]+)?:\/\/[^/]*\/[^?#]*(\?[^#]*)?$/.test(uri)) {
    throw new NestboxError('INVALID_ARGUMENT', `'${uri}' is not a libvirt URI (expected DRIVER[+TRANSPORT]://[USER@][HOST[:PORT]]/PATH, e.g. qemu+ssh://root@server/system)`);
  }
  return uri;
}

/** The host part of a URI, for messages ("this computer" when there is none). */
export function hostOfUri(uri: string): string {
  const m = /^[^:]+:\/\/(?:[^@/]*@)?([^/?]*)/.exec(uri);
  return m?.[1] ? m[1] : uri;
}

/** Keepalive for every connection through libvirt's remote driver: a dead peer is noticed in ~15 s. */
export function virshArgv(uri: string, args: readonly string[]): string[] {
  return ['-q', '-k', '5', '-K', '3', '-c', uri, ...args];
}

export const virshEnv = (): NodeJS.ProcessEnv => ({ ...process.env, LC_ALL: 'C', LANG: 'C', LANGUAGE: '', VIRSH_DEFAULT_CONNECT_URI: '' });

/** libvirt's error lines ("error: ...") from stderr, most specific last. */
export function virshErrorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.replace(/^error:\s*/, ''))
    .slice(-6);
}

/**
 * Maps libvirt's error text to a NestboxError code. The message keeps libvirt's own words
 * (the most specific line) and names the host.
 */
export function classifyVirshError(stderr: string): ErrorCode {
  const s = stderr;
  // A URI libvirt cannot use at all is the caller's mistake, even though it is reported as a failed connection.
  if (/no connection driver available|unsupported URI|unexpected \S+ URI path|invalid argument: .*URI|Unable to parse URI|Failed to parse URI|transport in URL not recognised|only \S+ transport/i.test(s)) return 'INVALID_ARGUMENT';
  if (
    /failed to connect to the hypervisor|Cannot recv data|End of file while reading data|Connection refused|Connection reset|No route to host|Could not resolve hostname|Permission denied \(|Host key verification failed|Connection timed out|Network is unreachable|Failed to connect socket|Cannot write data: Broken pipe|client socket is closed|Connection closed by|ssh: connect to host|connection to the hypervisor was lost|internal error: client socket|Unable to connect/i.test(
      s,
    )
  ) {
    return 'HOST_UNREACHABLE';
  }
  if (/Domain not found|failed to get domain|no domain with matching|Storage pool not found|Storage volume not found|failed to get pool|failed to get vol|Domain snapshot not found|snapshot .* not found|no storage pool with matching|no storage vol with matching|Network not found|no network with matching/i.test(s)) return 'NOT_FOUND';
  if (/cannot acquire state change lock|another migration job is already running|job .* is already running|Timed out during operation/i.test(s)) return 'BUSY';
  if (/this function is not supported|Operation not supported|unsupported configuration|argument unsupported|not supported by the connection driver/i.test(s)) return 'UNSUPPORTED';
  if (/already exists|domain .* is already defined|already in use/i.test(s)) return 'ALREADY_EXISTS';
  if (/Requested operation is not valid|domain is not running|domain is already running|is not active|is already active/i.test(s)) return 'INVALID_STATE';
  if (/operation aborted|migration job: canceled|cancell?ed by client/i.test(s)) return 'CANCELLED';
  if (/invalid argument|XML error|XML document failed to validate/i.test(s)) return 'INVALID_ARGUMENT';
  return 'FAILED';
}

export function virshError(uri: string, what: string, stderr: string, fallback?: ErrorCode): NestboxError {
  const lines = virshErrorLines(stderr);
  const code = lines.length ? classifyVirshError(stderr) : (fallback ?? 'FAILED');
  const line = lines.length ? lines[lines.length - 1]! : 'virsh failed without a message';
  // libvirt's first line ("failed to connect to the hypervisor") is generic; the last is the reason.
  const reason = lines.length > 1 && /^failed to (connect|get)/.test(line) ? lines.slice(-2).join(': ') : line;
  return new NestboxError(code, `libvirt host ${hostOfUri(uri)}: ${what}: ${reason}`, stderr.slice(-4000));
}

export interface VirshResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Spawns virsh and collects bounded output; rejects with a mapped NestboxError on failure. */
export function runVirsh(opts: VirshOptions, args: readonly string[], what: string): Promise<string> {
  return runVirshRaw(opts, args, what).then((r) => {
    if (r.code !== 0) throw virshError(opts.uri, what, r.stderr);
    return r.stdout;
  });
}

/** Like runVirsh, but a non-zero exit is returned (batches report per-command errors on stderr). */
export function runVirshRaw(opts: VirshOptions, args: readonly string[], what: string): Promise<VirshResult> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new NestboxError('CANCELLED', `${what}: cancelled`));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(opts.virsh, virshArgv(opts.uri, args), { env: virshEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new NestboxError('HOST_UNSUPPORTED', `cannot run ${opts.virsh}: ${(e as Error).message} (install libvirt-clients)`));
      return;
    }
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let failure: NestboxError | null = null;
    const kill = (e: NestboxError) => {
      if (!failure) failure = e;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(new NestboxError('HOST_UNREACHABLE', `libvirt host ${hostOfUri(opts.uri)}: ${what}: no answer within ${Math.round(opts.timeoutMs / 1000)} s`)),
      opts.timeoutMs,
    );
    const onAbort = () => kill(new NestboxError('CANCELLED', `${what}: cancelled`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (b: Buffer) => {
      outLen += b.length;
      if (outLen > max) kill(new NestboxError('FAILED', `libvirt host ${hostOfUri(opts.uri)}: ${what}: the answer is larger than ${max} bytes`));
      else out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      if (err.length < MAX_STDERR) err += b.toString('utf8');
    });
    child.on('error', (e) => {
      const code = (e as NodeJS.ErrnoException).code;
      kill(new NestboxError(code === 'ENOENT' ? 'HOST_UNSUPPORTED' : 'FAILED', code === 'ENOENT' ? `${opts.virsh} was not found: install libvirt-clients` : `virsh: ${e.message}`));
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: err, code });
    });
  });
}
