/**
 * Which files a VM's snapshot lives in: every writable disk (each must be qcow2) and, with
 * UEFI, the variable store. Taking, restoring and deleting snapshots (snapshots.ts,
 * snapshotdelete.ts) and cloning from one (clones.ts) all go by it.
 */
import { NestboxError } from '../api/errors';
import type { VmConfig } from '../domain/config';
import { resolveDiskPath } from '../qemu/argv';
import type { VmRow } from '../store/db';
import { vmFiles } from '../store/paths';

/** What a snapshot covers: the qcow2 images by QMP node name and by file. */
export interface Coverage {
  readonly nodes: string[];
  readonly files: string[];
  /** Where QEMU stores the RAM: the first qcow2 disk. */
  readonly vmstate: string | null;
}

export function coverage(row: VmRow, config: VmConfig): Coverage {
  const nodes: string[] = [];
  const files: string[] = [];
  for (const d of config.disks) {
    if (d.readOnly) continue;
    if (d.format !== 'qcow2') {
      throw new NestboxError(
        'SNAPSHOTS_UNSUPPORTED',
        `disk '${d.id}' of '${row.name}' is ${d.format}, which cannot hold snapshots; convert it to qcow2 first`,
        d.id,
      );
    }
    nodes.push(d.id);
    files.push(resolveDiskPath(row.dir, d.file));
  }
  const vmstate = nodes[0] ?? null;
  if (config.firmware === 'uefi') {
    nodes.push('fw-vars');
    files.push(vmFiles(row.dir).efiVars);
  }
  return { nodes, files, vmstate };
}
