/**
 * A UTM virtual machine: a `.utm` bundle (a folder) holding `config.plist` and `Data/` with
 * its disk images. The plist is UTM 4's configuration (ConfigurationVersion 4, Backend
 * "QEMU"): Information, System, QEMU, Sharing, Input, and arrays of Display, Drive, Network,
 * Serial and Sound dictionaries. Read into the neutral machine shape; what cannot come along
 * is named. Pure: disk names are returned as written, and the import checks each one lies in
 * the bundle's Data folder before a byte of it is read.
 */
import { NestboxError } from '../api/errors';
import type { BootDevice, DiskBus, DisplayAdapter, MachineType, NicModel, PortForward } from '../domain/config';
import { LIMITS } from '../domain/config';
import { normalizeMac, type ForeignAttachment, type ForeignDisk, type ForeignMachine, type ForeignNic } from './machine';
import { guessOs } from './ovf';
import { parsePlist, pBool, pDict, pDicts, pNum, pStr } from './plist';

/** UTM keeps the UEFI variables of a QEMU machine here, in the bundle's Data folder. */
export const UTM_EFI_VARS = 'efi_vars.fd';

/** UTM's x86_64 network devices (QEMU device names) → Nestbox's models. */
const UTM_NICS: Readonly<Record<string, NicModel>> = {
  'virtio-net-pci': 'virtio-net-pci',
  'virtio-net-pci-transitional': 'virtio-net-pci',
  'virtio-net-pci-non-transitional': 'virtio-net-pci',
  e1000: 'e1000',
  'e1000-82544gc': 'e1000',
  'e1000-82545em': 'e1000',
  e1000e: 'e1000e',
  rtl8139: 'rtl8139',
  vmxnet3: 'vmxnet3',
  pcnet: 'pcnet',
};

/** UTM's display devices → Nestbox's adapters; the `-gl` ones also lose their 3D acceleration. */
function displayOf(hw: string): { adapter: DisplayAdapter; note: string | null } {
  if (/^virtio-(vga|gpu)/.test(hw)) return { adapter: 'virtio', note: /-gl/.test(hw) ? `3D acceleration of the display '${hw}' (a virtio display without it here)` : null };
  if (hw === 'VGA' || hw === 'std') return { adapter: 'vga', note: null };
  return { adapter: 'vga', note: `the display adapter '${hw.slice(0, 40)}' (a standard VGA adapter here)` };
}

export function readUtmConfig(text: string, label: string, bridgeExists: (name: string) => boolean): ForeignMachine {
  const what = `the UTM configuration '${label}'`;
  const root = parsePlist(text, { code: 'IMAGE_REJECTED', what });
  const refuse = (msg: string): never => {
    throw new NestboxError('IMAGE_REJECTED', msg);
  };
  const backend = pStr(root, 'Backend');
  if (backend === 'Apple') refuse(`'${label}' is a UTM machine on Apple's Virtualization framework; Nestbox imports UTM's QEMU machines`);
  if (backend !== 'QEMU') refuse(`'${label}' has no QEMU backend; it may be from UTM 3 or older (open it once in UTM 4 or later, which updates it) or not a UTM configuration`);
  const version = pNum(root, 'ConfigurationVersion') ?? 0;
  if (version < 4) refuse(`'${label}' is a UTM configuration of version ${version}; open it once in UTM 4 or later, which updates it`);
  const system = pDict(root, 'System');
  const qemu = pDict(root, 'QEMU');
  const info = pDict(root, 'Information');
  if (!system) return refuse(`${what} has no System section`);
  const arch = pStr(system, 'Architecture') ?? '?';
  if (arch !== 'x86_64') refuse(`'${label}' is a ${arch.slice(0, 20)} machine; Nestbox runs x86_64 guests, and an operating system built for ${arch.slice(0, 20)} does not start on one`);

  const dropped: string[] = [];
  const target = pStr(system, 'Target') ?? 'q35';
  let machine: MachineType;
  if (target === 'q35' || target.startsWith('pc-q35')) machine = 'q35';
  else if (target === 'pc' || target.startsWith('pc-i440fx')) machine = 'pc';
  else {
    machine = 'q35';
    dropped.push(`the machine type '${target.slice(0, 30)}' (a q35 machine here)`);
  }
  const memoryMiB = pNum(system, 'MemorySize') ?? null;
  if (memoryMiB !== null && (memoryMiB < LIMITS.minMemoryMiB || memoryMiB > LIMITS.maxMemoryMiB)) {
    refuse(`${what} gives the machine ${memoryMiB} MiB of memory; Nestbox accepts ${LIMITS.minMemoryMiB}–${LIMITS.maxMemoryMiB} MiB`);
  }
  // UTM's 0 means "as many as the host has": left to the preset and the host here.
  const cpuCount = pNum(system, 'CPUCount') ?? 0;
  if (cpuCount > LIMITS.maxCpus || cpuCount < 0) refuse(`${what} gives the machine ${cpuCount} virtual CPUs; Nestbox accepts at most ${LIMITS.maxCpus}`);
  const firmware = pBool(qemu, 'UEFIBoot') === true ? 'uefi' : 'bios';
  if (pBool(qemu, 'TPMDevice')) dropped.push('the TPM and its state (turn a TPM on with nestbox modify if the guest needs one)');
  const extra = qemu && Array.isArray(qemu.AdditionalArguments) ? qemu.AdditionalArguments.length : 0;
  if (extra > 0) dropped.push(`UTM's ${extra} additional QEMU argument${extra === 1 ? '' : 's'}`);
  if (pStr(qemu, 'MachinePropertyOverride')) dropped.push(`the machine properties '${pStr(qemu, 'MachinePropertyOverride')!.slice(0, 60)}'`);

  // q35's "IDE" buses are its AHCI controller's ports: SATA in Nestbox's words; pc's are real IDE.
  const busOf = (iface: string): DiskBus | 'usb' | null => {
    switch (iface) {
      case 'VirtIO':
        return 'virtio';
      case 'IDE':
        return machine === 'q35' ? 'sata' : 'ide';
      case 'SCSI':
        return 'scsi';
      case 'NVMe':
        return 'nvme';
      case 'USB':
        return 'usb';
      default:
        return null;
    }
  };
  const native: DiskBus = machine === 'q35' ? 'sata' : 'ide';
  const disks: ForeignDisk[] = [];
  const attachments: ForeignAttachment[] = [];
  const bootOrder: BootDevice[] = [];
  for (const [i, d] of pDicts(root, 'Drive').entries()) {
    const type = pStr(d, 'ImageType') ?? 'None';
    const iface = pStr(d, 'Interface') ?? 'None';
    const image = pStr(d, 'ImageName');
    const where = `drive ${i + 1}${image ? ` ('${image.slice(0, 80)}')` : ''}`;
    if (type !== 'Disk' && type !== 'CD') {
      if (type !== 'None') dropped.push(`${where}, UTM's ${type.slice(0, 20)} image (${type === 'LinuxKernel' || type === 'LinuxInitrd' || type === 'LinuxDTB' ? 'direct kernel boot is not carried over' : 'a custom firmware is not carried over'})`);
      continue;
    }
    const mapped = busOf(iface);
    if (!mapped) {
      dropped.push(`${where} on UTM's '${iface.slice(0, 16)}' interface, which Nestbox does not emulate`);
      continue;
    }
    let bus: DiskBus;
    if (mapped === 'usb') {
      bus = native;
      if (type === 'Disk') dropped.push(`${where} on USB (attached to ${native.toUpperCase()} here)`);
    } else bus = mapped;
    if (type === 'CD') {
      if (image) dropped.push(`the image '${image.slice(0, 80)}' in the CD drive ${i + 1} (the drive is kept, empty; insert it again with 'nestbox cd')`);
      attachments.push({ bus, kind: 'cdrom', image: null });
      if (!bootOrder.includes('cdrom')) bootOrder.push('cdrom');
      continue;
    }
    if (!image) {
      dropped.push(`${where}, a disk outside the bundle (UTM keeps only a bookmark to it; import that disk with 'nestbox attach')`);
      continue;
    }
    disks.push({ path: image, bus, format: null, label: where });
    attachments.push({ bus, kind: 'disk', image: null });
    if (!bootOrder.includes('disk')) bootOrder.push('disk');
  }

  const nics: ForeignNic[] = [];
  for (const [i, n] of pDicts(root, 'Network').entries()) {
    const hw = pStr(n, 'Hardware') ?? 'virtio-net-pci';
    let model = UTM_NICS[hw];
    if (!model) {
      dropped.push(`adapter ${i + 1}'s model '${hw.slice(0, 32)}' (imported as virtio)`);
      model = 'virtio-net-pci';
    }
    const raw = pStr(n, 'MacAddress');
    const mac = normalizeMac(raw);
    if (raw && !mac) dropped.push(`adapter ${i + 1}'s MAC '${raw.slice(0, 20)}' (not a unicast MAC; a new one is made)`);
    const modeWord = pStr(n, 'Mode') ?? 'Shared';
    let mode: ForeignNic['mode'] = 'nat';
    let bridge: string | undefined;
    if (modeWord === 'Bridged') {
      const iface = pStr(n, 'BridgeInterface') ?? '';
      if (/^[A-Za-z0-9_.-]{1,15}$/.test(iface) && bridgeExists(iface)) {
        mode = 'bridged';
        bridge = iface;
      } else dropped.push(`adapter ${i + 1} bridged to '${iface.slice(0, 16) || '?'}', a bridge that does not exist here (imported as NAT)`);
    } else if (modeWord === 'Host') dropped.push(`adapter ${i + 1} on a host-only network (imported as NAT)`);
    else if (modeWord !== 'Emulated' && modeWord !== 'Shared') dropped.push(`adapter ${i + 1}'s mode '${modeWord.slice(0, 16)}' (imported as NAT)`);
    if (pBool(n, 'IsolateFromHost')) dropped.push(`adapter ${i + 1}'s isolation from the host`);
    const forwards: PortForward[] = [];
    for (const [k, f] of pDicts(n, 'PortForward').entries()) {
      const hostPort = pNum(f, 'HostPort') ?? pNum(f, 'hostPort') ?? -1;
      const guestPort = pNum(f, 'GuestPort') ?? pNum(f, 'guestPort') ?? -1;
      const name = `utm${k + 1}`;
      if (mode !== 'nat' || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) {
        dropped.push(`adapter ${i + 1}'s port forward ${k + 1} (${hostPort} → ${guestPort})${mode !== 'nat' ? ', on an adapter that is not NAT here' : ', its ports are not valid'}`);
        continue;
      }
      const ip = /^\d{1,3}(\.\d{1,3}){3}$/;
      const hostAddr = pStr(f, 'HostAddress') ?? pStr(f, 'hostAddress') ?? '';
      const guestAddr = pStr(f, 'GuestAddress') ?? pStr(f, 'guestAddress') ?? '';
      // UTM leaves the host address empty for "every address"; Nestbox binds forwards to 127.0.0.1 unless told otherwise.
      if (!ip.test(hostAddr)) dropped.push(`adapter ${i + 1}'s port forward of host port ${hostPort} listening on every host address (it listens on 127.0.0.1 here)`);
      forwards.push({ name, protocol: (pStr(f, 'Protocol') ?? pStr(f, 'protocol')) === 'UDP' ? 'udp' : 'tcp', hostAddress: ip.test(hostAddr) ? hostAddr : '127.0.0.1', hostPort, guestAddress: ip.test(guestAddr) ? guestAddr : '', guestPort });
    }
    nics.push({ model, mac, mode, ...(bridge ? { bridge } : {}), forwards });
  }

  const displays = pDicts(root, 'Display');
  let display: DisplayAdapter = 'none';
  if (displays.length) {
    const d = displayOf(pStr(displays[0], 'Hardware') ?? 'VGA');
    display = d.adapter;
    if (d.note) dropped.push(d.note);
    if (displays.length > 1) dropped.push(`${displays.length - 1} more display${displays.length > 2 ? 's' : ''} (one here)`);
  }
  const sharing = pDict(root, 'Sharing');
  const share = pStr(sharing, 'DirectoryShareMode');
  if (share && share !== 'None') dropped.push(`the shared folder (UTM's ${share} directory sharing)`);
  if (pBool(pDict(root, 'Input'), 'UsbSharing')) dropped.push('USB device sharing');
  for (const s of pDicts(root, 'Sound')) dropped.push(`the sound card (${(pStr(s, 'Hardware') ?? '?').slice(0, 32)})`);
  for (const [i, s] of pDicts(root, 'Serial').entries()) dropped.push(`serial device ${i + 1} (${(pStr(s, 'Mode') ?? '?').slice(0, 16)}; Nestbox's own serial console is there)`);

  const efiVars = firmware === 'uefi' ? UTM_EFI_VARS : null;
  return {
    source: 'utm',
    name: (pStr(info, 'Name') ?? '').trim().slice(0, 200),
    description: (pStr(info, 'Notes') ?? '').trim(),
    // UTM names no OS; its icon often does ("debian", "ubuntu", "windows").
    osType: pStr(info, 'Icon') ? guessOs(null, pStr(info, 'Icon')!) : null,
    hardware: { firmware, machine, cpus: cpuCount > 0 ? cpuCount : null, memoryMiB, attachments, bootOrder: bootOrder.length ? bootOrder : null, nics, dropped, display },
    disks,
    nvram: efiVars,
  };
}
