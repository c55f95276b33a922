/**
 * What one connected client holds in the core beyond its calls: the console streams it
 * opened (they close with it) and the VMs it wants `vm.stats` for. One per session.
 */
import type { ApiEvents, ConsoleChannel, EventName } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { OpenStream, StreamSink } from './consoles';

/** Opens a VM's console on whichever engine the ref names (this computer or a libvirt host). */
export type ConsoleOpener = (ref: string, channel: ConsoleChannel, sink: StreamSink) => Promise<OpenStream>;

/** The client names its streams (so it can listen before the first byte arrives). */
const STREAM_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** The console streams one client has open, by the ids it chose. */
export class ConsoleStreams {
  private readonly streams = new Map<string, OpenStream>();

  constructor(
    private readonly openConsole: ConsoleOpener,
    private readonly push: (name: EventName, data: unknown) => void,
    private readonly congested: () => boolean,
  ) {}

  async open(ref: string, channel: ConsoleChannel | string, stream: string): Promise<{ stream: string }> {
    if (!STREAM_ID.test(stream)) throw new NestboxError('INVALID_ARGUMENT', 'a console stream id must be 8 to 64 letters, digits, _ or -');
    if (this.streams.has(stream)) throw new NestboxError('ALREADY_EXISTS', 'that console stream id is already open');
    const sink: StreamSink = {
      data: (chunk) => this.push('console.data', { stream, data: chunk.toString('base64') } satisfies ApiEvents['console.data']),
      closed: (reason) => {
        this.streams.delete(stream);
        this.push('console.closed', { stream, reason } satisfies ApiEvents['console.closed']);
      },
      congested: this.congested,
    };
    if (channel !== 'serial' && channel !== 'vnc') throw new NestboxError('INVALID_ARGUMENT', `unknown console channel '${channel}' (serial or vnc)`);
    this.streams.set(stream, await this.openConsole(ref, channel, sink));
    return { stream };
  }

  write(stream: string, base64: string): null {
    const s = this.streams.get(stream);
    if (!s) throw new NestboxError('NOT_FOUND', 'that console stream is not open');
    s.write(Buffer.from(base64, 'base64'));
    return null;
  }

  /** Closing a stream that is not open is fine: the VM may have closed it first. */
  close(stream: string): null {
    this.streams.get(stream)?.close();
    this.streams.delete(stream);
    return null;
  }

  closeAll(): void {
    for (const s of this.streams.values()) s.close();
    this.streams.clear();
  }
}

/** VM uuids a client wants `vm.stats` for; '*' is every VM plus `host.stats`. */
export class StatsSubscriptions {
  private readonly subs = new Set<string>();

  /** `uuid` undefined: every VM and the host. */
  subscribe(uuid: string | undefined): null {
    this.subs.add(uuid ?? '*');
    return null;
  }

  /** `uuid` undefined: everything. */
  unsubscribe(uuid: string | undefined): null {
    if (uuid === undefined) this.subs.clear();
    else this.subs.delete(uuid);
    return null;
  }

  /** Whether this client hears a bus event; console events go only to a stream's owner. */
  wants(name: EventName, data: unknown): boolean {
    if (name === 'console.data' || name === 'console.closed') return false;
    if (name === 'vm.stats') return this.subs.has('*') || this.subs.has((data as ApiEvents['vm.stats']).uuid);
    if (name === 'host.stats') return this.subs.has('*');
    return true;
  }
}

/** One client's state in the core. */
export interface ClientSession {
  readonly consoles: ConsoleStreams;
  readonly stats: StatsSubscriptions;
}
