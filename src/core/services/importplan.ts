/**
 * `nestbox import --dry-run` for an appliance or a plain disk: the VM the import would make,
 * from the same rules the import follows (the source's word first, the OS type's preset for
 * what it does not say). Pure: the caller has read the descriptor or inspected the image.
 */
import type { ImportPlan, ImportSpec } from '../api/contract';
import { findOsType } from '../domain/ostypes';
import type { OvfDescriptor } from '../storage/ovf';

export function planFromDisk(spec: ImportSpec, src: string, format: string, name: string): ImportPlan {
  const osType = spec.osType ?? 'other';
  const preset = findOsType(osType)?.preset;
  return {
    source: 'disk',
    name,
    osType,
    firmware: spec.firmware ?? preset?.firmware ?? 'bios',
    machine: preset?.machine ?? 'q35',
    memoryMiB: spec.memoryMiB ?? preset?.memoryMiB ?? 1024,
    cpus: spec.cpus ?? preset?.cpus ?? 1,
    disks: [{ source: src, bus: spec.diskBus ?? preset?.diskBus ?? 'virtio', format, inPlace: spec.mode === 'inPlace' }],
    cdroms: 0,
    nics: [{ model: preset?.nicModel ?? 'virtio-net-pci', mac: '(new)', mode: 'nat', forwards: 0 }],
    bootOrder: ['disk', 'cdrom'],
    notCarried: [],
  };
}

export function planFromOvf(
  spec: ImportSpec,
  ovf: OvfDescriptor,
  name: string,
  source: 'ova' | 'ovf',
  host: { readonly memoryMiB: number; readonly cpus: number },
  takenMacs: ReadonlySet<string>,
): ImportPlan {
  const hw = ovf.hardware;
  const osType = spec.osType ?? ovf.osType;
  const preset = findOsType(osType)?.preset;
  const notes = [...hw.dropped];
  const nics = (hw.nics ?? [{ model: preset?.nicModel ?? 'virtio-net-pci', mac: null, mode: 'nat' as const, forwards: [] }]).map((n, i) => {
    const clash = n.mac !== null && takenMacs.has(n.mac);
    if (clash) notes.push(`adapter ${i + 1}'s MAC ${n.mac} (another VM has it; a new one is made)`);
    return { model: n.model, mac: n.mac && !clash ? n.mac : '(new)', mode: n.mode, forwards: n.forwards.length };
  });
  const buses = ovf.disks.map((_, i) => spec.diskBus ?? ovf.diskBuses[i] ?? preset?.diskBus ?? 'virtio');
  // As the import: an AHCI controller needs q35 (QEMU's pc machine has only IDE).
  const sata = buses.includes('sata') || hw.attachments.some((a) => a.bus === 'sata');
  return {
    source,
    name,
    osType,
    firmware: spec.firmware ?? ovf.firmware ?? preset?.firmware ?? 'bios',
    machine: sata ? 'q35' : (hw.machine ?? preset?.machine ?? 'q35'),
    memoryMiB: spec.memoryMiB ?? Math.min(Math.max(ovf.memoryMiB ?? 1024, 16), host.memoryMiB),
    cpus: spec.cpus ?? Math.min(Math.max(ovf.cpus ?? 1, 1), host.cpus),
    disks: ovf.disks.map((dk, i) => ({ source: ovf.files.find((f) => f.id === dk.fileRef)?.href ?? '?', bus: buses[i]!, format: 'vmdk → qcow2', inPlace: false })),
    cdroms: hw.attachments.filter((a) => a.kind === 'cdrom').length,
    nics,
    bootOrder: hw.bootOrder ?? ['disk', 'cdrom'],
    notCarried: notes,
  };
}
