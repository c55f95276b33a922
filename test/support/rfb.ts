/**
 * A minimal RFB (VNC) client for tests and benchmarks: version 3.8, security None, raw
 * encoding. It runs over any byte duplex, so the same client talks to QEMU's VNC socket
 * directly or through Nestbox's relay, which is what makes side-by-side figures fair.
 */
export interface ByteDuplex {
  write(data: Buffer): void;
  onData(cb: (data: Buffer) => void): void;
  close(): void;
}

export interface FramebufferUpdate {
  readonly at: number;
  readonly rects: number;
  readonly bytes: number;
  /** Pixels that differ from the previous content of the client's framebuffer. */
  readonly changedPixels: number;
}

export const KEYSYM = {
  Return: 0xff0d,
  Shift: 0xffe1,
  ascii: (ch: string) => ch.charCodeAt(0),
} as const;

export class RfbClient {
  width = 0;
  height = 0;
  name = '';
  private buf = Buffer.alloc(0);
  private waiters: { n: number; resolve: (b: Buffer) => void }[] = [];
  private fb = Buffer.alloc(0);
  private bpp = 4;
  private readonly updateListeners = new Set<(u: FramebufferUpdate) => void>();
  private running = true;
  private continuous = false;
  readonly updates: FramebufferUpdate[] = [];

  private constructor(private readonly io: ByteDuplex) {
    io.onData((d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.pump();
    });
  }

  private pump(): void {
    while (this.waiters.length && this.buf.length >= this.waiters[0]!.n) {
      const w = this.waiters.shift()!;
      const out = this.buf.subarray(0, w.n);
      this.buf = this.buf.subarray(w.n);
      w.resolve(Buffer.from(out));
    }
  }

  private read(n: number): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiters.push({ n, resolve });
      this.pump();
    });
  }

  /** Performs the handshake and starts reading server messages. */
  static async connect(io: ByteDuplex): Promise<RfbClient> {
    const c = new RfbClient(io);
    const version = (await c.read(12)).toString('latin1');
    if (!/^RFB 003\.00[3-8]\n$/.test(version)) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
    io.write(Buffer.from('RFB 003.008\n', 'latin1'));
    const n = (await c.read(1))[0]!;
    if (n === 0) throw new Error('the VNC server refused the connection');
    const types = [...(await c.read(n))];
    if (!types.includes(1)) throw new Error(`no security type None offered (${types.join(',')})`);
    io.write(Buffer.from([1]));
    const result = (await c.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error('VNC security handshake failed');
    io.write(Buffer.from([1])); // shared
    const init = await c.read(24);
    c.width = init.readUInt16BE(0);
    c.height = init.readUInt16BE(2);
    c.bpp = init[4]! / 8;
    const nameLen = init.readUInt32BE(20);
    c.name = (await c.read(nameLen)).toString('utf8');
    c.fb = Buffer.alloc(c.width * c.height * c.bpp);
    // SetEncodings: raw, and DesktopSize so a mode switch resizes us.
    const enc = Buffer.alloc(4 + 8);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(2, 2);
    enc.writeInt32BE(0, 4);
    enc.writeInt32BE(-223, 8);
    io.write(enc);
    void c.loop();
    return c;
  }

  /** Like a real viewer: after each update, ask for the next incremental one. */
  startContinuousUpdates(): void {
    this.continuous = true;
    this.requestUpdate(false);
  }

  requestUpdate(incremental: boolean): void {
    const b = Buffer.alloc(10);
    b.writeUInt8(3, 0);
    b.writeUInt8(incremental ? 1 : 0, 1);
    b.writeUInt16BE(0, 2);
    b.writeUInt16BE(0, 4);
    b.writeUInt16BE(this.width, 6);
    b.writeUInt16BE(this.height, 8);
    this.io.write(b);
  }

  key(keysym: number, down: boolean): void {
    const b = Buffer.alloc(8);
    b.writeUInt8(4, 0);
    b.writeUInt8(down ? 1 : 0, 1);
    b.writeUInt32BE(keysym, 4);
    this.io.write(b);
  }

  /** Types text as a person would on a US keyboard: Shift is held for shifted characters. */
  type(text: string): void {
    for (const ch of text) {
      const sym = ch === '\n' ? KEYSYM.Return : KEYSYM.ascii(ch);
      const shifted = /[A-Z~!@#$%^&*()_+{}|:"<>?]/.test(ch);
      if (shifted) this.key(KEYSYM.Shift, true);
      this.key(sym, true);
      this.key(sym, false);
      if (shifted) this.key(KEYSYM.Shift, false);
    }
  }

  onUpdate(cb: (u: FramebufferUpdate) => void): () => void {
    this.updateListeners.add(cb);
    return () => this.updateListeners.delete(cb);
  }

  /** Resolves with the next update that changes at least one pixel. */
  nextChange(timeoutMs = 10_000): Promise<FramebufferUpdate> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        off();
        reject(new Error('no framebuffer change arrived'));
      }, timeoutMs);
      const off = this.onUpdate((u) => {
        if (u.changedPixels > 0) {
          clearTimeout(t);
          off();
          resolve(u);
        }
      });
    });
  }

  /** A copy of the framebuffer (BGRX as QEMU sends it by default). */
  snapshot(): Buffer {
    return Buffer.from(this.fb);
  }

  close(): void {
    this.running = false;
    this.io.close();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const type = (await this.read(1))[0]!;
      switch (type) {
        case 0: {
          const head = await this.read(3);
          const nrects = head.readUInt16BE(1);
          let changed = 0;
          let bytes = 4;
          for (let i = 0; i < nrects; i++) {
            const r = await this.read(12);
            const x = r.readUInt16BE(0);
            const y = r.readUInt16BE(2);
            const w = r.readUInt16BE(4);
            const h = r.readUInt16BE(6);
            const enc = r.readInt32BE(8);
            bytes += 12;
            if (enc === 0) {
              const data = await this.read(w * h * this.bpp);
              bytes += data.length;
              for (let row = 0; row < h; row++) {
                const src = data.subarray(row * w * this.bpp, (row + 1) * w * this.bpp);
                const off = ((y + row) * this.width + x) * this.bpp;
                const dst = this.fb.subarray(off, off + src.length);
                if (!dst.equals(src)) {
                  for (let p = 0; p < w; p++) {
                    if (src.readUInt32LE(p * this.bpp) !== dst.readUInt32LE(p * this.bpp)) changed++;
                  }
                  src.copy(this.fb, off);
                }
              }
            } else if (enc === -223) {
              this.width = w;
              this.height = h;
              this.fb = Buffer.alloc(w * h * this.bpp);
              changed += w * h;
            } else {
              throw new Error(`unexpected encoding ${enc}`);
            }
          }
          const u = { at: performance.now(), rects: nrects, bytes, changedPixels: changed };
          this.updates.push(u);
          for (const l of [...this.updateListeners]) l(u);
          if (this.continuous && this.running) this.requestUpdate(true);
          break;
        }
        case 1: {
          const h = await this.read(5);
          await this.read(h.readUInt16BE(3) * 6);
          break;
        }
        case 2:
          break;
        case 3: {
          const h = await this.read(7);
          await this.read(h.readUInt32BE(3));
          break;
        }
        default:
          throw new Error(`unknown RFB server message ${type}`);
      }
    }
  }
}
