/**
 * libvirt's device words in Nestbox's: one table for a libvirt host's VMs (engines/libvirt)
 * and for a domain XML file imported as a local VM (domimport), so both read the same
 * hardware the same way.
 */
import type { DiskBus, DiskFormat, NicModel } from '../domain/config';

export const DOMAIN_DISK_FORMATS: readonly DiskFormat[] = ['qcow2', 'raw', 'vdi', 'vmdk', 'vpc', 'vhdx'];
export const DOMAIN_BUS: Readonly<Record<string, DiskBus>> = { virtio: 'virtio', sata: 'sata', ide: 'ide', nvme: 'nvme', scsi: 'scsi' };
export const DOMAIN_NIC_MODELS: Readonly<Record<string, NicModel>> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139', vmxnet3: 'vmxnet3', pcnet: 'pcnet' };

/** A libosinfo id (http://debian.org/debian/12) as one of Nestbox's OS types. */
export function osTypeOf(osId: string | null): string {
  if (!osId) return 'other';
  const id = osId.toLowerCase();
  const table: readonly [string, string][] = [
    ['debian', 'linux-debian'],
    ['ubuntu', 'linux-ubuntu'],
    ['fedora', 'linux-fedora'],
    ['archlinux', 'linux-arch'],
    ['alpine', 'linux-alpine'],
    ['microsoft.com/win/11', 'windows-11'],
    ['microsoft.com/win/10', 'windows-10'],
    ['microsoft.com/win/2k22', 'windows-server-2022'],
    ['microsoft.com/win/7', 'windows-7'],
    ['freebsd', 'bsd-freebsd'],
    ['openbsd', 'bsd-openbsd'],
    ['netbsd', 'bsd-netbsd'],
  ];
  for (const [needle, type] of table) if (id.includes(needle)) return type;
  return id.includes('linux') || id.includes('centos') || id.includes('rhel') ? 'linux-other' : 'other';
}

/** The domain's machine type ("pc-q35-8.2", "q35", "pc-i440fx-7.2") as Nestbox's. */
export const machineOf = (machine: string | null): 'q35' | 'pc' => (machine && machine.includes('q35') ? 'q35' : 'pc');
