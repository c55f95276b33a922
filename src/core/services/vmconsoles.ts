/**
 * A running VM's consoles: its serial hub (kept open across a restore that replaces QEMU),
 * the runtime directory whose VNC socket the screen streams read, screenshots and keys.
 * The streams themselves are in consoles.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NestboxError } from '../api/errors';
import { RUNTIME_FILES } from '../qemu/argv';
import { qemuCommands } from '../qemu/commands';
import type { VmRow } from '../store/db';
import { SerialHub } from './serial';
import type { Running, VmRegistry } from './vmregistry';

/** The width and height in a PNG's IHDR chunk (0×0 for anything else). */
export function pngSize(buf: Buffer): { width: number; height: number } {
  if (buf.length < 24 || buf.readUInt32BE(12) !== 0x49484452) return { width: 0, height: 0 };
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

export class VmConsoles {
  /** Serial hubs whose consoles wait for the VM's next QEMU (see keepOpen). */
  private readonly waiting = new Map<string, SerialHub>();

  constructor(private readonly reg: VmRegistry) {}

  /**
   * The serial consoles open now stay open across the VM's next power-off and start (a
   * restore that replaces QEMU): they are handed to the new QEMU's hub.
   */
  keepOpen(uuid: string): () => void {
    const r = this.reg.running.get(uuid);
    if (!r?.serial) return () => undefined;
    const carrier = new SerialHub('');
    r.serial.handOver(carrier);
    this.waiting.set(uuid, carrier);
    // If the start never comes, the consoles close as they would have.
    return () => {
      if (this.waiting.get(uuid) === carrier) {
        this.waiting.delete(uuid);
        carrier.end('the VM is not running');
      }
    };
  }

  /** Connects the serial hub of a freshly started (or re-attached) QEMU. */
  async attachSerial(row: VmRow, r: Running): Promise<void> {
    if (!row.config.serial.enabled) return;
    const hub = new SerialHub(path.join(r.proc.runDir, RUNTIME_FILES.serial));
    try {
      await hub.connect();
      r.serial = hub;
      const waiting = this.waiting.get(row.uuid);
      if (waiting) {
        this.waiting.delete(row.uuid);
        waiting.handOver(hub);
      }
    } catch (err) {
      this.reg.log(row.uuid, 'warning', 'serial', `could not attach to the serial console: ${(err as Error).message}`);
    }
  }

  async screenshot(ref: string): Promise<{ pngBase64: string; width: number; height: number }> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'screenshot', 'take a screenshot of');
    if (row.config.display.adapter === 'none') throw new NestboxError('INVALID_STATE', `'${row.name}' has no display`);
    const { proc } = this.reg.proc(row);
    const file = path.join(proc.runDir, `screen-${crypto.randomBytes(4).toString('hex')}.png`);
    try {
      await qemuCommands(proc.qmp).screendump(file);
      const buf = fs.readFileSync(file);
      return { pngBase64: buf.toString('base64'), ...pngSize(buf) };
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** The runtime directory of a running VM with a screen, for VNC streams. */
  vncRunDir(ref: string): string {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'console', 'open the screen of');
    if (row.config.display.adapter === 'none') throw new NestboxError('INVALID_STATE', `'${row.name}' has no display`);
    return this.reg.proc(row).proc.runDir;
  }

  async sendKeys(ref: string, keys: readonly string[]): Promise<void> {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'screenshot', 'send keys to');
    await qemuCommands(this.reg.proc(row).proc.qmp).sendKeys(keys);
    this.reg.log(row.uuid, 'info', 'keys', `sent ${keys.join('+')} to '${row.name}'`);
  }

  /** The serial hub of a running VM, for console streams. */
  serialHub(ref: string): { row: VmRow; hub: SerialHub } {
    const row = this.reg.resolve(ref);
    this.reg.require(row, 'console', 'open the console of');
    const r = this.reg.proc(row);
    if (!r.serial) throw new NestboxError('INVALID_STATE', `'${row.name}' has no serial console attached`);
    return { row, hub: r.serial };
  }
}
