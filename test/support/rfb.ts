/**
 * A minimal RFB (VNC) client for tests and benchmarks: version 3.8, security None, raw
 * encoding. It runs over any byte duplex, so the same client talks to QEMU's VNC socket
 * directly or through Nestbox's relay, which is what makes side-by-side figures fair.
 * With `clipboard`, it also speaks the extended clipboard as noVNC does: text the server
 * announces is requested, and what it provides is inflated and handed to `onClipboard`.
 */
import { inflateSync } from 'node:zlib';
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

/** The extended clipboard's pseudo-encoding and flags (the RFB community spec; QEMU's ui/vnc-clipboard.c). */
const EXT_CLIPBOARD = -1063131698;
const CLIP = { text: 1, caps: 1 << 24, request: 1 << 25, peek: 1 << 26, notify: 1 << 27, provide: 1 << 28 } as const;

export interface RfbOptions {
  /** Offer the extended clipboard, as noVNC does. */
  readonly clipboard?: boolean;
}

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
  private readonly clipListeners = new Set<(text: string) => void>();

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
  static async connect(io: ByteDuplex, opts: RfbOptions = {}): Promise<RfbClient> {
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
    // SetEncodings: raw, and DesktopSize so a mode switch resizes us (and the extended clipboard).
    const encodings = [0, -223, ...(opts.clipboard ? [EXT_CLIPBOARD] : [])];
    const enc = Buffer.alloc(4 + 4 * encodings.length);
    enc.writeUInt8(2, 0);
    enc.writeUInt16BE(encodings.length, 2);
    encodings.forEach((e, i) => enc.writeInt32BE(e, 4 + 4 * i));
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

  /** Puts text on the server's clipboard (ClientCutText, Latin-1, as every viewer can). */
  cutText(text: string): void {
    const data = Buffer.from(text, 'latin1');
    const b = Buffer.alloc(8);
    b.writeUInt8(6, 0);
    b.writeUInt32BE(data.length, 4);
    this.io.write(Buffer.concat([b, data]));
  }

  /** Text the server provided for its clipboard (extended clipboard only). */
  onClipboard(cb: (text: string) => void): () => void {
    this.clipListeners.add(cb);
    return () => this.clipListeners.delete(cb);
  }

  /** An extended ClientCutText: a negative length, then the flags. */
  private clipMessage(flags: number): void {
    const b = Buffer.alloc(12);
    b.writeUInt8(6, 0);
    b.writeInt32BE(-4, 4);
    b.writeUInt32BE(flags >>> 0, 8);
    this.io.write(b);
  }

  private onServerClip(payload: Buffer): void {
    const flags = payload.readUInt32BE(0);
    // The server's capabilities (its flags name every action it supports, provide included).
    if (flags & CLIP.caps) return;
    // The server has text on its clipboard: ask for it, as noVNC does.
    if (flags & CLIP.notify && flags & CLIP.text) this.clipMessage(CLIP.request | CLIP.text);
    if (flags & CLIP.provide && flags & CLIP.text) {
      const data = inflateSync(payload.subarray(4));
      const size = data.readUInt32BE(0);
      const text = data.subarray(4, 4 + size).toString('utf8').replace(/\0$/, '');
      for (const l of [...this.clipListeners]) l(text);
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
          const len = h.readInt32BE(3);
          if (len >= 0) await this.read(len);
          else this.onServerClip(await this.read(-len));
          break;
        }
        default:
          throw new Error(`unknown RFB server message ${type}`);
      }
    }
  }
}
