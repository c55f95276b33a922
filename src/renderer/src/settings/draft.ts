/**
 * The Settings dialog's form state apart from its fields: the draft a VM's config opens as,
 * and what OK sends (only the fields that differ, so a running VM's rename never trips over its
 * unchanged memory). Pure, for the dialog and its unit tests.
 */
import type { ModifyVmSpec, VmInfo } from '../../../core/api/contract';
import type { DisplayAdapter, Firmware } from '../model/labels';
import { resourceChangesOf, resourceDraftOf, type ResourceDraft } from './resources';

export interface Draft {
  readonly name: string;
  readonly description: string;
  readonly group: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: Firmware;
  readonly secureBoot: boolean;
  readonly tpm: boolean;
  /** Erase the TPM's state on Apply (confirmed by the user in the section). */
  readonly resetTpm: boolean;
  readonly display: DisplayAdapter;
  /** Clipboard sharing with the console (on unless turned off). */
  readonly clipboard: boolean;
  readonly iso: string;
  readonly resources: ResourceDraft;
  /** Automatic snapshots before each start to keep; 0 is off. */
  readonly autoSnapshots: number;
}

export function draftOf(vm: VmInfo): Draft {
  const c = vm.config;
  return {
    name: c.name,
    description: c.description,
    group: c.group,
    memoryMiB: c.memoryMiB,
    cpus: c.cpus,
    firmware: c.firmware,
    secureBoot: c.secureBoot === true,
    tpm: c.tpm === true,
    resetTpm: false,
    display: c.display.adapter,
    clipboard: c.clipboard !== false,
    iso: c.cdroms[0]?.iso ?? '',
    resources: resourceDraftOf(c.resources),
    autoSnapshots: c.autoSnapshot?.keep ?? 0,
  };
}

/** Only what differs, so a running VM's rename never trips over its (unchanged) memory. */
export function changesOf(vm: VmInfo, d: Draft): ModifyVmSpec {
  const o = draftOf(vm);
  const resources = resourceChangesOf(vm.config.resources, d.resources);
  return {
    ...(resources ? { resources } : {}),
    ...(d.name !== o.name ? { name: d.name } : {}),
    ...(d.description !== o.description ? { description: d.description } : {}),
    ...(d.group.trim() !== o.group ? { group: d.group.trim() } : {}),
    ...(d.memoryMiB !== o.memoryMiB ? { memoryMiB: d.memoryMiB } : {}),
    ...(d.cpus !== o.cpus ? { cpus: d.cpus } : {}),
    ...(d.firmware !== o.firmware ? { firmware: d.firmware } : {}),
    ...(d.firmware === 'uefi' && d.secureBoot !== o.secureBoot ? { secureBoot: d.secureBoot } : {}),
    ...(d.tpm !== o.tpm ? { tpm: d.tpm } : {}),
    ...(d.resetTpm ? { resetTpm: true } : {}),
    ...(d.display !== o.display ? { display: d.display } : {}),
    ...(d.clipboard !== o.clipboard ? { clipboard: d.clipboard } : {}),
    ...(d.iso.trim() !== o.iso ? { iso: d.iso.trim() === '' ? null : d.iso.trim() } : {}),
    ...(d.autoSnapshots !== o.autoSnapshots ? { autoSnapshots: d.autoSnapshots } : {}),
  };
}
