/**
 * Words for configuration values. The config uses QEMU's vocabulary ("virtio-net-pci",
 * "q35"); people read "Virtio network", "Q35 (ICH9)". Exhaustive switches catch new values.
 */
import { assertNever } from '../../../core/api/errors';
import type { VmConfig } from '../../../core/api/contract';

type Disk = VmConfig['disks'][number];
type Nic = VmConfig['nics'][number];
export type DisplayAdapter = VmConfig['display']['adapter'];
export type Firmware = VmConfig['firmware'];

export function firmwareLabel(f: Firmware): string {
  switch (f) {
    case 'bios':
      return 'BIOS';
    case 'uefi':
      return 'UEFI';
    default:
      return assertNever(f, 'firmware');
  }
}

export function machineLabel(m: VmConfig['machine']): string {
  switch (m) {
    case 'q35':
      return 'Q35 (ICH9)';
    case 'pc':
      return 'PC (i440FX)';
    default:
      return assertNever(m, 'machine type');
  }
}

export const DISPLAY_ADAPTERS: readonly DisplayAdapter[] = ['vga', 'virtio', 'none'];

export function displayLabel(d: DisplayAdapter): string {
  switch (d) {
    case 'vga':
      return 'Standard VGA';
    case 'virtio':
      return 'Virtio GPU';
    case 'none':
      return 'None (headless)';
    default:
      return assertNever(d, 'display adapter');
  }
}

export function busLabel(b: Disk['bus']): string {
  switch (b) {
    case 'virtio':
      return 'VirtIO';
    case 'sata':
      return 'SATA';
    case 'ide':
      return 'IDE';
    case 'nvme':
      return 'NVMe';
    case 'scsi':
      return 'SCSI (virtio-scsi)';
    default:
      return assertNever(b, 'disk bus');
  }
}

export function formatLabel(f: Disk['format']): string {
  switch (f) {
    case 'qcow2':
      return 'QCOW2';
    case 'raw':
      return 'Raw';
    case 'vdi':
      return 'VDI';
    case 'vmdk':
      return 'VMDK';
    case 'vpc':
      return 'VHD';
    case 'vhdx':
      return 'VHDX';
    default:
      return assertNever(f, 'disk format');
  }
}

export function nicModeLabel(m: Nic['mode']): string {
  switch (m) {
    case 'nat':
      return 'NAT';
    case 'bridged':
      return 'Bridged adapter';
    case 'internal':
      return 'Internal network';
    case 'none':
      return 'Not attached';
    default:
      return assertNever(m, 'network mode');
  }
}

export function nicModelLabel(m: Nic['model']): string {
  switch (m) {
    case 'virtio-net-pci':
      return 'Virtio network';
    case 'e1000':
      return 'Intel PRO/1000 (e1000)';
    case 'e1000e':
      return 'Intel 82574 (e1000e)';
    case 'rtl8139':
      return 'Realtek RTL8139';
    case 'vmxnet3':
      return 'VMware vmxnet3';
    case 'pcnet':
      return 'AMD PCnet-FAST III';
    default:
      return assertNever(m, 'network model');
  }
}

export function bootLabel(b: VmConfig['bootOrder'][number]): string {
  switch (b) {
    case 'disk':
      return 'Hard disk';
    case 'cdrom':
      return 'Optical';
    case 'network':
      return 'Network';
    default:
      return assertNever(b, 'boot device');
  }
}
