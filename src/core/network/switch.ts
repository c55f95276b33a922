/**
 * Internal networks: one small learning Ethernet switch per network name, run by the core.
 * Each VM adapter on the network is a QEMU `-netdev stream` listening on a unix socket in the
 * VM's 0700 runtime directory; the switch connects to it as a client, so after a core restart
 * the new core simply connects again (QEMU 7.2's stream netdev has no reconnect of its own).
 * Frames use QEMU's stream framing: a 4-byte big-endian length, then the frame. Nothing here
 * touches a host interface: frames only ever go from one VM's socket to another's.
 */
import net from 'node:net';

/** Ethernet frames are at most 64 KiB with offloads; anything larger is a broken peer. */
const MAX_FRAME = 65_536 + 64;

export interface SwitchPort {
  readonly vm: string;
  readonly nic: string;
  readonly socketPath: string;
  readonly connected: boolean;
}

interface Port {
  readonly vm: string;
  readonly nic: string;
  readonly socketPath: string;
  sock: net.Socket | null;
  buf: Buffer;
  closed: boolean;
}

const macKey = (b: Buffer, at: number) => b.subarray(at, at + 6).toString('hex');

export class L2Switch {
  private readonly ports = new Set<Port>();
  /** Learned source MAC → the port it was last seen on. */
  private readonly macs = new Map<string, Port>();
  frames = 0;

  constructor(readonly name: string) {}

  get size(): number {
    return this.ports.size;
  }

  list(): SwitchPort[] {
    return [...this.ports].map((p) => ({ vm: p.vm, nic: p.nic, socketPath: p.socketPath, connected: p.sock !== null }));
  }

  /** Connects to a VM adapter's socket; retries a few times while QEMU is still creating it. */
  async attach(vm: string, nic: string, socketPath: string): Promise<void> {
    this.detach(vm, nic);
    const port: Port = { vm, nic, socketPath, sock: null, buf: Buffer.alloc(0), closed: false };
    this.ports.add(port);
    let lastErr: Error | null = null;
    for (let i = 0; i < 50 && !port.closed; i++) {
      try {
        port.sock = await connect(socketPath);
        break;
      } catch (err) {
        lastErr = err as Error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!port.sock) {
      this.ports.delete(port);
      if (port.closed) return;
      throw new Error(`could not connect to ${socketPath}: ${lastErr?.message ?? 'detached'}`);
    }
    const sock = port.sock;
    sock.on('data', (chunk: Buffer) => this.receive(port, chunk));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (port.sock === sock) port.sock = null;
      this.forget(port);
      this.ports.delete(port);
    });
  }

  detach(vm: string, nic?: string): void {
    for (const p of [...this.ports]) {
      if (p.vm !== vm || (nic !== undefined && p.nic !== nic)) continue;
      p.closed = true;
      p.sock?.destroy();
      p.sock = null;
      this.forget(p);
      this.ports.delete(p);
    }
  }

  close(): void {
    for (const p of this.ports) {
      p.closed = true;
      p.sock?.destroy();
    }
    this.ports.clear();
    this.macs.clear();
  }

  private forget(port: Port): void {
    for (const [mac, p] of this.macs) if (p === port) this.macs.delete(mac);
  }

  private receive(port: Port, chunk: Buffer): void {
    port.buf = port.buf.length ? Buffer.concat([port.buf, chunk]) : chunk;
    while (port.buf.length >= 4) {
      const len = port.buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        // Not QEMU's framing: drop the peer rather than guess.
        port.sock?.destroy();
        return;
      }
      if (port.buf.length < 4 + len) break;
      const packet = port.buf.subarray(0, 4 + len);
      port.buf = port.buf.subarray(4 + len);
      if (len >= 14) this.forward(port, packet);
    }
    if (port.buf.length === 0) port.buf = Buffer.alloc(0);
  }

  /** `packet` is length prefix + frame; it is passed on unchanged. */
  private forward(from: Port, packet: Buffer): void {
    this.frames++;
    const frame = packet.subarray(4);
    const src = macKey(frame, 6);
    if ((frame[6]! & 1) === 0) this.macs.set(src, from);
    const multicast = (frame[0]! & 1) === 1;
    const to = multicast ? undefined : this.macs.get(macKey(frame, 0));
    if (to && this.ports.has(to)) {
      if (to !== from) to.sock?.write(packet);
      return;
    }
    for (const p of this.ports) if (p !== from) p.sock?.write(packet);
  }
}

function connect(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => {
      s.removeListener('error', reject);
      s.setNoDelay?.(true);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Every internal network the core runs, by name. */
export class InternalNetworks {
  private readonly switches = new Map<string, L2Switch>();

  async attach(network: string, vm: string, nic: string, socketPath: string): Promise<void> {
    let sw = this.switches.get(network);
    if (!sw) {
      sw = new L2Switch(network);
      this.switches.set(network, sw);
    }
    // A VM moved to another network: leave the old one.
    for (const [name, other] of this.switches) if (name !== network) other.detach(vm, nic);
    await sw.attach(vm, nic, socketPath);
  }

  detachVm(vm: string): void {
    for (const [name, sw] of this.switches) {
      sw.detach(vm);
      if (sw.size === 0) this.switches.delete(name);
    }
  }

  ports(network: string): SwitchPort[] {
    return this.switches.get(network)?.list() ?? [];
  }

  names(): string[] {
    return [...this.switches.keys()].sort();
  }

  close(): void {
    for (const sw of this.switches.values()) sw.close();
    this.switches.clear();
  }
}
