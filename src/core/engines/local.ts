/**
 * This computer as an engine: a thin adapter over the services that drive QEMU directly. It
 * adds nothing; the services keep their rules (state machine, jobs, media locks).
 */
import type { ConsoleChannel, OpResult, SnapshotInfo, SnapshotList, VmInfo, VmSummary } from '../api/contract';
import { assertNever } from '../api/errors';
import { LOCAL_HOST } from '../domain/hosts';
import type { SnapshotService } from '../services/snapshots';
import type { VmService } from '../services/vms';
import { openSerialStream, openVncStream, type OpenStream, type StreamSink } from '../services/consoles';
import { ENGINE_CAPABILITIES, type DeleteOptions, type EngineCapability, type VmEngine } from './engine';

export interface LocalEngineDeps {
  readonly vms: VmService;
  readonly snapshots: SnapshotService;
}

const ALL: ReadonlyMap<EngineCapability, true> = new Map(ENGINE_CAPABILITIES.filter((c) => c !== 'migrate').map((c) => [c, true] as const));

export class LocalEngine implements VmEngine {
  readonly name = LOCAL_HOST;

  constructor(private readonly d: LocalEngineDeps) {}

  capabilities(): ReadonlyMap<EngineCapability, true | string> {
    return new Map<EngineCapability, true | string>([...ALL, ['migrate', 'VMs on this computer move to a host with move, not migrate']]);
  }

  list(): Promise<readonly VmSummary[]> {
    return Promise.resolve(this.d.vms.list());
  }

  info(vm: string): Promise<VmInfo> {
    return Promise.resolve(this.d.vms.info(vm));
  }

  start(vm: string): Promise<OpResult> {
    return this.d.vms.start(vm);
  }

  shutdown(vm: string, timeoutS?: number): Promise<OpResult> {
    return this.d.vms.shutdown(vm, timeoutS);
  }

  powerOff(vm: string): Promise<OpResult> {
    return this.d.vms.powerOff(vm);
  }

  reset(vm: string): Promise<OpResult> {
    return this.d.vms.reset(vm);
  }

  pause(vm: string): Promise<OpResult> {
    return this.d.vms.pause(vm);
  }

  resume(vm: string): Promise<OpResult> {
    return this.d.vms.resume(vm);
  }

  saveState(vm: string): Promise<OpResult> {
    return this.d.vms.saveState(vm);
  }

  delete(vm: string, opts: DeleteOptions): Promise<{ uuid: string; removedDir: boolean }> {
    return this.d.vms.delete(vm, opts.keepStorage);
  }

  screenshot(vm: string): Promise<{ pngBase64: string; width: number; height: number }> {
    return this.d.vms.screenshot(vm);
  }

  listSnapshots(vm: string): Promise<SnapshotList> {
    return Promise.resolve(this.d.snapshots.list(vm));
  }

  takeSnapshot(vm: string, name: string, description: string): Promise<SnapshotInfo> {
    return this.d.snapshots.take(vm, name, description);
  }

  restoreSnapshot(vm: string, id: string): Promise<OpResult> {
    return this.d.snapshots.restore(vm, id);
  }

  deleteSnapshot(vm: string, id: string): Promise<SnapshotList> {
    return this.d.snapshots.delete(vm, id);
  }

  async openConsole(vm: string, channel: ConsoleChannel, sink: StreamSink): Promise<OpenStream> {
    switch (channel) {
      case 'serial':
        return openSerialStream(this.d.vms.serialHub(vm).hub, sink);
      case 'vnc':
        return openVncStream(this.d.vms.vncRunDir(vm), sink);
      default:
        return assertNever(channel, 'console channel');
    }
  }

  cancel(vm: string): Promise<{ cancelled: boolean }> {
    return Promise.resolve(this.d.vms.cancel(vm));
  }
}
