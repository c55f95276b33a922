/**
 * The QMP commands the services send, typed: their names, arguments and answers are written
 * once here instead of as strings at every call site, and objects are named by argv.ts's id
 * scheme (QEMU_IDS), so a command always addresses what the command line created. The
 * migration stream (migration.ts), QMP background jobs (jobs.ts) and internal disk
 * snapshots (internalsnap.ts) keep their own modules.
 */
import { QEMU_IDS } from './argv';
import type { QmpClient } from './qmp';

/** What `query-status` answers (only the fields Nestbox reads). */
export interface QemuStatus {
  readonly running: boolean;
  /** 'running', 'paused', 'shutdown', 'internal-error', 'inmigrate', ... */
  readonly status: string;
}

/** A job QEMU runs in its main loop (snapshot-save and friends), as `query-jobs` lists it. */
export interface QemuJob {
  readonly id: string;
  readonly type?: string;
  readonly status: string;
  readonly error?: string;
}

/** The subset of `query-migrate` Nestbox reads. */
export interface MigrateStatus {
  readonly status?: string;
}

export class QemuCommands {
  constructor(private readonly qmp: QmpClient) {}

  /** Lets the guest run (after a start, a pause or a state load). */
  cont(): Promise<void> {
    return this.qmp.execute('cont');
  }

  /** Pauses the guest. */
  stop(): Promise<void> {
    return this.qmp.execute('stop');
  }

  /** The ACPI power button. */
  systemPowerdown(): Promise<void> {
    return this.qmp.execute('system_powerdown');
  }

  systemReset(): Promise<void> {
    return this.qmp.execute('system_reset');
  }

  queryStatus(): Promise<QemuStatus> {
    return this.qmp.execute<QemuStatus>('query-status');
  }

  /** Writes the screen as PNG to `file` (a path QEMU can write: the VM's runtime dir). */
  screendump(file: string): Promise<void> {
    return this.qmp.execute('screendump', { filename: file, format: 'png' });
  }

  /** Presses a combination of QEMU key codes (qcodes) together. */
  sendKeys(keys: readonly string[]): Promise<void> {
    return this.qmp.execute('send-key', { keys: keys.map((k) => ({ type: 'qcode', data: k })) });
  }

  /** Sets the balloon so the guest keeps `bytes` of RAM. */
  balloon(bytes: number): Promise<void> {
    return this.qmp.execute('balloon', { value: bytes });
  }

  /** Plugs or unplugs the virtual cable of an adapter (by its config id). */
  setLink(nicId: string, up: boolean): Promise<void> {
    return this.qmp.execute('set_link', { name: nicId, up });
  }

  /** A human monitor command (for what QMP lacks, such as hostfwd_add). */
  humanMonitor(commandLine: string): Promise<string> {
    return this.qmp.execute<string>('human-monitor-command', { 'command-line': commandLine });
  }

  /**
   * Swaps the medium in a CD drive of a running VM: open the tray, take the medium out, put
   * `iso` in (or leave it empty) and close the tray.
   */
  async changeMedium(driveId: string, iso: string | null): Promise<void> {
    const dev = QEMU_IDS.device(driveId);
    await this.qmp.execute('blockdev-open-tray', { id: dev, force: true });
    await this.qmp.execute('blockdev-remove-medium', { id: dev });
    if (iso) {
      const node = QEMU_IDS.insertedMedium(driveId, Date.now().toString(36));
      await this.qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': node,
        'read-only': true,
        file: { driver: 'file', filename: iso, 'read-only': true },
      });
      await this.qmp.execute('blockdev-insert-medium', { id: dev, 'node-name': node });
    }
    await this.qmp.execute('blockdev-close-tray', { id: dev });
  }

  /** Internal snapshots of every node under one tag, in one transaction (all or none). */
  blockdevSnapshotInternal(nodes: readonly string[], tag: string): Promise<void> {
    return this.qmp.execute('transaction', {
      actions: nodes.map((node) => ({ type: 'blockdev-snapshot-internal-sync', data: { device: node, name: tag } })),
    });
  }

  /** Deletes one node's internal snapshot. */
  blockdevSnapshotDeleteInternal(node: string, tag: string): Promise<void> {
    return this.qmp.execute('blockdev-snapshot-delete-internal-sync', { device: node, name: tag });
  }

  queryJobs(): Promise<QemuJob[]> {
    return this.qmp.execute<QemuJob[]>('query-jobs');
  }

  jobDismiss(id: string): Promise<void> {
    return this.qmp.execute('job-dismiss', { id });
  }

  queryMigrate(): Promise<MigrateStatus> {
    return this.qmp.execute<MigrateStatus>('query-migrate');
  }

  migrateCancel(): Promise<void> {
    return this.qmp.execute('migrate_cancel');
  }
}

/** The typed commands over a client (cheap: one small object per call site). */
export function qemuCommands(qmp: QmpClient): QemuCommands {
  return new QemuCommands(qmp);
}
