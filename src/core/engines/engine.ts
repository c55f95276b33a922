/**
 * The VM engine seam: what the services need of "a VM on some engine". This computer's
 * direct-QEMU engine is one implementation (engines/local.ts), a libvirt host the other
 * (engines/libvirt.ts). The API routes a VM reference to its engine and calls these; it does
 * not know which engine it talks to.
 *
 * An engine says what it cannot do (`capabilities`); calling such a method fails with
 * UNSUPPORTED naming the host and the missing capability, never a silent no-op.
 */
import type { ConsoleChannel, OpResult, SnapshotInfo, SnapshotList, VmInfo, VmSummary } from '../api/contract';
import { NestboxError } from '../api/errors';
import type { OpenStream, StreamSink } from '../services/consoles';

export const ENGINE_CAPABILITIES = [
  'start',
  'shutdown',
  'powerOff',
  'reset',
  'pause',
  'resume',
  'saveState',
  'delete',
  'screenshot',
  'snapshots',
  'console.serial',
  'console.vnc',
  'migrate',
] as const;
export type EngineCapability = (typeof ENGINE_CAPABILITIES)[number];

/** Words for error messages: "host 'lab' cannot save a VM's state: <reason>". */
export const CAPABILITY_VERBS: Readonly<Record<EngineCapability, string>> = {
  start: 'start a VM',
  shutdown: 'shut a VM down',
  powerOff: 'power a VM off',
  reset: 'reset a VM',
  pause: 'pause a VM',
  resume: 'resume a VM',
  saveState: "save a VM's state",
  delete: 'delete a VM',
  screenshot: 'take a screenshot',
  snapshots: 'take, list, restore or delete snapshots',
  'console.serial': 'open a serial console',
  'console.vnc': 'show the screen',
  migrate: 'migrate a VM to another host',
};

export interface DeleteOptions {
  /** Keep the VM's disks (local: its files; libvirt: its storage volumes). */
  readonly keepStorage: boolean;
}

export interface VmEngine {
  /** 'local' for this computer, otherwise the host's name. */
  readonly name: string;
  /** What this engine can do now, with the reason for what it cannot. */
  capabilities(): ReadonlyMap<EngineCapability, true | string>;

  list(): Promise<readonly VmSummary[]>;
  info(vm: string): Promise<VmInfo>;
  start(vm: string): Promise<OpResult>;
  shutdown(vm: string, timeoutS?: number): Promise<OpResult>;
  powerOff(vm: string): Promise<OpResult>;
  reset(vm: string): Promise<OpResult>;
  pause(vm: string): Promise<OpResult>;
  resume(vm: string): Promise<OpResult>;
  saveState(vm: string): Promise<OpResult>;
  delete(vm: string, opts: DeleteOptions): Promise<{ uuid: string; removedDir: boolean }>;
  screenshot(vm: string): Promise<{ pngBase64: string; width: number; height: number }>;
  listSnapshots(vm: string): Promise<SnapshotList>;
  takeSnapshot(vm: string, name: string, description: string): Promise<SnapshotInfo>;
  restoreSnapshot(vm: string, id: string): Promise<OpResult>;
  deleteSnapshot(vm: string, id: string): Promise<SnapshotList>;
  openConsole(vm: string, channel: ConsoleChannel, sink: StreamSink): Promise<OpenStream>;
  /** Stops what the VM is doing that can be stopped midway (a clone, a live snapshot, a migration). */
  cancel(vm: string): Promise<{ cancelled: boolean }>;
}

/** Throws UNSUPPORTED when `engine` cannot do `cap`. */
export function requireCapability(engine: VmEngine, cap: EngineCapability): void {
  const c = engine.capabilities().get(cap);
  if (c === true) return;
  const who = engine.name === 'local' ? 'this computer' : `host '${engine.name}'`;
  throw new NestboxError('UNSUPPORTED', `${who} cannot ${CAPABILITY_VERBS[cap]}${c ? `: ${c}` : ''}`);
}

/** Width and height from a PNG's IHDR chunk (bytes 16-23); zeros when it is not a PNG. */
export function pngSize(png: Buffer): { width: number; height: number } {
  const sig = '89504e470d0a1a0a';
  if (png.length < 24 || png.subarray(0, 8).toString('hex') !== sig || png.subarray(12, 16).toString('latin1') !== 'IHDR') return { width: 0, height: 0 };
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
