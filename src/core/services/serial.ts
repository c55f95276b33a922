/**
 * The core is the one client of a VM's serial chardev socket (QEMU accepts one at a time)
 * and fans its bytes out to every open console stream. QEMU itself keeps the full serial
 * log on disk (chardev logfile), so nothing is lost while no console is open.
 */
import net from 'node:net';

export interface SerialSink {
  data(chunk: Buffer): void;
  closed(reason: string): void;
}

export class SerialHub {
  private socket: net.Socket | null = null;
  private readonly sinks = new Set<SerialSink>();
  private ended = false;
  /** The hub the consoles were handed over to, which writes and unsubscribes follow. */
  private forward: SerialHub | null = null;

  constructor(private readonly socketPath: string) {}

  /** Connects (retrying briefly: QEMU creates the socket during start). */
  async connect(retryMs = 3000): Promise<void> {
    const deadline = Date.now() + retryMs;
    for (;;) {
      try {
        this.socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(this.socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const s = this.socket;
    s.unref();
    s.on('data', (chunk: Buffer) => {
      for (const sink of [...this.sinks]) sink.data(chunk);
    });
    s.on('error', () => undefined);
    s.on('close', () => this.end('the serial port closed'));
  }

  subscribe(sink: SerialSink): () => void {
    if (this.ended) {
      queueMicrotask(() => sink.closed('the VM is not running'));
      return () => undefined;
    }
    this.sinks.add(sink);
    return () => this.unsubscribe(sink);
  }

  private unsubscribe(sink: SerialSink): void {
    this.sinks.delete(sink);
    this.forward?.unsubscribe(sink);
  }

  /**
   * Hands the open consoles over to `next` (the hub of the QEMU that replaces this one, as
   * when a live snapshot is restored): they stay open instead of being closed.
   */
  handOver(next: SerialHub): void {
    for (const sink of this.sinks) next.sinks.add(sink);
    this.sinks.clear();
    this.forward = next;
  }

  write(data: Buffer): void {
    if (this.forward) {
      this.forward.write(data);
      return;
    }
    // A slow guest UART must never block the core: the socket buffers and we move on.
    this.socket?.write(data);
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.socket?.destroy();
    for (const sink of [...this.sinks]) sink.closed(reason);
    this.sinks.clear();
  }
}
