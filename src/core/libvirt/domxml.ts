/**
 * Domain XML both ways. `buildDomainXml` is pure (golden-file tested, like the QEMU argv
 * builder); `parseDomainXml` reads what a host sends with the strict XML parser (no DTD, no
 * entities, bounded size and depth) and refuses absurd values instead of passing them on.
 */
import { NestboxError } from '../api/errors';
import { attr, child, childrenOf, escapeXml, parseXml, type XmlElement } from '../storage/xml';
import type { DomainDescription, DomainDisk, DomainGraphics, DomainNic } from './types';

const NAME_MAX = 64;
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A name Nestbox gives to or reads back from libvirt (domain, pool, volume, snapshot). It
 * reaches virsh's own argument parser and XML, so anything that could be read as an option,
 * a command separator, a shell or XML metacharacter or a path is refused with the reason.
 */
export function checkLibvirtName(name: string, what = 'VM name'): string {
  if (typeof name !== 'string' || name.length === 0) throw new NestboxError('INVALID_ARGUMENT', `a ${what} is required`);
  if (name.length > NAME_MAX) throw new NestboxError('INVALID_ARGUMENT', `the ${what} '${name.slice(0, 20)}…' is longer than ${NAME_MAX} characters`);
  const bad = /[^A-Za-z0-9._+-]/.exec(name);
  if (bad) {
    const ch = bad[0];
    const shown = /[\x20-\x7e]/.test(ch) ? `'${ch}'` : `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new NestboxError('INVALID_ARGUMENT', `the ${what} ${JSON.stringify(name)} contains ${shown}: use letters, digits, '.', '_', '+' and '-' only`);
  }
  if (/^[-.+]/.test(name)) throw new NestboxError('INVALID_ARGUMENT', `the ${what} '${name}' must start with a letter, a digit or '_'`);
  return name;
}

export function checkDomainName(name: string): string {
  return checkLibvirtName(name, 'VM name');
}

/** A domain as virsh should be told about it: its UUID when given one, else a checked name. */
export function domainRef(nameOrUuid: string): string {
  if (typeof nameOrUuid === 'string' && UUID_RE.test(nameOrUuid)) return nameOrUuid.toLowerCase();
  return checkDomainName(nameOrUuid);
}

// ---------------------------------------------------------------- building

export type DiskBus = 'virtio' | 'sata' | 'scsi' | 'ide';
export type NicModel = 'virtio' | 'e1000' | 'e1000e' | 'rtl8139' | 'vmxnet3' | 'pcnet';

/** Where a disk's bytes are: a volume in one of the host's storage pools, or a path on the host. */
export type DiskSource = { readonly pool: string; readonly volume: string } | { readonly path: string };

export interface DomainDiskSpec {
  readonly source: DiskSource;
  readonly bus: DiskBus;
  readonly format: 'qcow2' | 'raw';
}

export interface DomainNicSpec {
  readonly type: 'network' | 'bridge';
  /** The libvirt network ('default') or the host bridge ('br0'). */
  readonly source: string;
  readonly model: NicModel;
  readonly mac?: string;
}

export interface DomainSpec {
  readonly name: string;
  readonly uuid?: string;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly firmware: 'bios' | 'uefi';
  /** 'q35' (default) or 'pc'. */
  readonly machine?: 'q35' | 'pc';
  /** 'kvm' where the host has it; 'qemu' (TCG) otherwise. Default 'kvm'. */
  readonly domainType?: 'kvm' | 'qemu';
  readonly disks: readonly DomainDiskSpec[];
  readonly cdrom?: DiskSource | null;
  readonly nics: readonly DomainNicSpec[];
  /**
   * VNC on a unix socket in the domain's private directory (the default: reached through the
   * host connection, never a TCP port), VNC on 127.0.0.1 with an automatic port, or none.
   */
  readonly graphics?: 'vnc-socket' | 'vnc-localhost' | 'none';
  /** With 'vnc-socket': where the socket goes on the host (default: libvirt picks one in the domain's directory). */
  readonly vncSocket?: string;
  /** A file on the host that also receives the serial output (libvirt's <log>), if wanted. */
  readonly serialLog?: string;
  /** libosinfo id, e.g. http://debian.org/debian/12. */
  readonly osId?: string;
  readonly description?: string;
  /** Boot from the CD-ROM first (an installer) instead of the first disk. */
  readonly bootCdrom?: boolean;
  /**
   * UEFI only: the file on the host holding this VM's variable store (a VM moved from this
   * computer keeps its boot entries); absent, libvirt makes one from its template.
   */
  readonly nvram?: string;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function checkPath(p: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof p !== 'string' || !p.startsWith('/') || p.length > 4096 || /[\u0000-\u001f\u007f]/.test(p)) {
    throw new NestboxError('INVALID_ARGUMENT', `${what} must be an absolute path on the host without control characters`);
  }
  return p;
}

function checkInt(n: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(n) || n < min || n > max) throw new NestboxError('INVALID_ARGUMENT', `${what} must be a whole number from ${min} to ${max} (got ${String(n)})`);
  return n;
}

function diskTargets(bus: DiskBus, used: Set<string>): string {
  const prefix = bus === 'virtio' ? 'vd' : bus === 'ide' ? 'hd' : 'sd';
  for (let i = 0; i < 26; i++) {
    const t = `${prefix}${String.fromCharCode(97 + i)}`;
    if (!used.has(t)) {
      used.add(t);
      return t;
    }
  }
  throw new NestboxError('INVALID_ARGUMENT', `too many disks on the ${bus} bus`);
}

function sourceXml(src: DiskSource, what: string): { type: 'volume' | 'file'; xml: string } {
  if ('pool' in src) {
    return {
      type: 'volume',
      xml: `<source pool='${escapeXml(checkLibvirtName(src.pool, 'storage pool name'))}' volume='${escapeXml(checkLibvirtName(src.volume, 'volume name'))}'/>`,
    };
  }
  return { type: 'file', xml: `<source file='${escapeXml(checkPath(src.path, what))}'/>` };
}

/** Domain XML for a new VM on a libvirt host. Pure: the same spec gives the same bytes. */
export function buildDomainXml(spec: DomainSpec): string {
  const name = checkDomainName(spec.name);
  if (spec.uuid !== undefined && !UUID_RE.test(spec.uuid)) throw new NestboxError('INVALID_ARGUMENT', `'${spec.uuid}' is not a UUID`);
  const mem = checkInt(spec.memoryMiB, 16, 4 * 1024 * 1024, 'memory (MiB)');
  const cpus = checkInt(spec.cpus, 1, 512, 'the number of CPUs');
  const machine = spec.machine ?? 'q35';
  const type = spec.domainType ?? 'kvm';
  if (spec.disks.length > 16) throw new NestboxError('INVALID_ARGUMENT', 'at most 16 disks');
  if (spec.nics.length > 16) throw new NestboxError('INVALID_ARGUMENT', 'at most 16 network adapters');
  if (spec.osId !== undefined && !/^[a-z][a-z0-9+.-]*:\/\/[\x21-\x7e]{1,200}$/i.test(spec.osId)) throw new NestboxError('INVALID_ARGUMENT', `'${spec.osId}' is not a libosinfo id (a URL such as http://debian.org/debian/12)`);
  if (spec.description !== undefined && spec.description.length > 4096) throw new NestboxError('INVALID_ARGUMENT', 'the description is longer than 4096 characters');

  const L: string[] = [];
  L.push(`<domain type='${type}'>`);
  L.push(`  <name>${escapeXml(name)}</name>`);
  if (spec.uuid) L.push(`  <uuid>${spec.uuid.toLowerCase()}</uuid>`);
  if (spec.description) L.push(`  <description>${escapeXml(spec.description)}</description>`);
  if (spec.osId) {
    L.push('  <metadata>');
    L.push(`    <libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>`);
    L.push(`      <libosinfo:os id='${escapeXml(spec.osId)}'/>`);
    L.push('    </libosinfo:libosinfo>');
    L.push('  </metadata>');
  }
  L.push(`  <memory unit='MiB'>${mem}</memory>`);
  L.push(`  <currentMemory unit='MiB'>${mem}</currentMemory>`);
  L.push(`  <vcpu placement='static'>${cpus}</vcpu>`);
  L.push(spec.firmware === 'uefi' ? `  <os firmware='efi'>` : '  <os>');
  L.push(`    <type arch='x86_64' machine='${machine}'>hvm</type>`);
  if (spec.cdrom && spec.bootCdrom) L.push(`    <boot dev='cdrom'/>`);
  if (spec.disks.length) L.push(`    <boot dev='hd'/>`);
  if (spec.cdrom && !spec.bootCdrom) L.push(`    <boot dev='cdrom'/>`);
  if (spec.nvram !== undefined) {
    if (spec.firmware !== 'uefi') throw new NestboxError('INVALID_ARGUMENT', 'a UEFI variable store is for UEFI firmware only');
    L.push(`    <nvram>${escapeXml(checkPath(spec.nvram, 'the UEFI variable store'))}</nvram>`);
  }
  L.push('  </os>');
  L.push('  <features>');
  L.push('    <acpi/>');
  L.push('    <apic/>');
  L.push('  </features>');
  L.push(type === 'kvm' ? `  <cpu mode='host-passthrough'/>` : '');
  L.push(`  <clock offset='utc'/>`);
  L.push('  <on_poweroff>destroy</on_poweroff>');
  L.push('  <on_reboot>restart</on_reboot>');
  L.push('  <on_crash>destroy</on_crash>');
  L.push('  <devices>');
  const used = new Set<string>();
  // SCSI disks sit on virtio-scsi (libvirt would otherwise add an LSI controller).
  if (spec.disks.some((d) => d.bus === 'scsi')) L.push(`    <controller type='scsi' index='0' model='virtio-scsi'/>`);
  spec.disks.forEach((d, i) => {
    if (d.format !== 'qcow2' && d.format !== 'raw') throw new NestboxError('INVALID_ARGUMENT', `disk ${i + 1}: format must be qcow2 or raw`);
    const src = sourceXml(d.source, `disk ${i + 1}`);
    L.push(`    <disk type='${src.type}' device='disk'>`);
    L.push(`      <driver name='qemu' type='${d.format}' discard='unmap'/>`);
    L.push(`      ${src.xml}`);
    L.push(`      <target dev='${diskTargets(d.bus, used)}' bus='${d.bus}'/>`);
    L.push('    </disk>');
  });
  if (spec.cdrom) {
    const src = sourceXml(spec.cdrom, 'the CD-ROM image');
    const bus: DiskBus = machine === 'pc' ? 'ide' : 'sata';
    const target = bus === 'ide' ? (used.has('hdc') ? diskTargets('ide', used) : (used.add('hdc'), 'hdc')) : diskTargets('sata', used);
    L.push(`    <disk type='${src.type}' device='cdrom'>`);
    L.push(`      <driver name='qemu' type='raw'/>`);
    L.push(`      ${src.xml}`);
    L.push(`      <target dev='${target}' bus='${bus}'/>`);
    L.push('      <readonly/>');
    L.push('    </disk>');
  }
  spec.nics.forEach((n, i) => {
    if (n.mac !== undefined && !MAC_RE.test(n.mac)) throw new NestboxError('INVALID_ARGUMENT', `network adapter ${i + 1}: '${n.mac}' is not a MAC address`);
    const source = checkLibvirtName(n.source, n.type === 'network' ? 'network name' : 'bridge name');
    L.push(`    <interface type='${n.type}'>`);
    if (n.mac) L.push(`      <mac address='${n.mac.toLowerCase()}'/>`);
    L.push(n.type === 'network' ? `      <source network='${source}'/>` : `      <source bridge='${source}'/>`);
    L.push(`      <model type='${n.model}'/>`);
    L.push('    </interface>');
  });
  L.push(`    <serial type='pty'>`);
  if (spec.serialLog) L.push(`      <log file='${escapeXml(checkPath(spec.serialLog, 'the serial log'))}' append='on'/>`);
  L.push(`      <target port='0'/>`);
  L.push('    </serial>');
  L.push(`    <console type='pty'>`);
  L.push(`      <target type='serial' port='0'/>`);
  L.push('    </console>');
  const graphics = spec.graphics ?? 'vnc-socket';
  switch (graphics) {
    case 'vnc-socket':
      // libvirt puts the socket in the domain's private directory on the host.
      L.push(`    <graphics type='vnc'>`);
      L.push(spec.vncSocket ? `      <listen type='socket' socket='${escapeXml(checkPath(spec.vncSocket, 'the VNC socket'))}'/>` : `      <listen type='socket'/>`);
      L.push('    </graphics>');
      L.push(`    <video>`);
      L.push(`      <model type='vga'/>`);
      L.push('    </video>');
      break;
    case 'vnc-localhost':
      L.push(`    <graphics type='vnc' autoport='yes' listen='127.0.0.1'>`);
      L.push(`      <listen type='address' address='127.0.0.1'/>`);
      L.push('    </graphics>');
      L.push(`    <video>`);
      L.push(`      <model type='vga'/>`);
      L.push('    </video>');
      break;
    case 'none':
      break;
    default:
      throw new NestboxError('INVALID_ARGUMENT', `unknown graphics '${String(graphics)}'`);
  }
  L.push(`    <input type='tablet' bus='usb'/>`);
  L.push(`    <memballoon model='virtio'/>`);
  L.push('  </devices>');
  L.push('</domain>');
  return L.filter((l) => l !== '').join('\n') + '\n';
}

// ---------------------------------------------------------------- reading

const MAX_DEVICES = 256;

export function hostileXml(host: string, msg: string): NestboxError {
  return new NestboxError('PROTOCOL_ERROR', `libvirt host ${host} sent unacceptable XML: ${msg}`);
}

/** Parses XML a host sent; DOCTYPE, entities and oversize documents are refused. */
export function parseHostXml(xml: string, host: string, what: string): XmlElement {
  return parseXml(xml, { code: 'PROTOCOL_ERROR', what: `the ${what} from libvirt host ${host}` });
}

const UNIT_KIB: Readonly<Record<string, number>> = {
  b: 1 / 1024,
  bytes: 1 / 1024,
  k: 1,
  kib: 1,
  kb: 1000 / 1024,
  m: 1024,
  mib: 1024,
  mb: 1e6 / 1024,
  g: 1024 ** 2,
  gib: 1024 ** 2,
  gb: 1e9 / 1024,
  t: 1024 ** 3,
  tib: 1024 ** 3,
  tb: 1e12 / 1024,
};

/** Memory in KiB from an element with an optional unit; more than 64 TiB or not a number is refused. */
export function memoryKiB(el: XmlElement | undefined, host: string, what: string): number {
  if (!el) throw hostileXml(host, `${what} is missing`);
  const text = el.text.trim();
  if (!/^\d{1,20}$/.test(text)) throw hostileXml(host, `${what} '${text.slice(0, 30)}' is not a number`);
  const unit = (attr(el, 'unit') ?? 'KiB').toLowerCase();
  const f = UNIT_KIB[unit];
  if (f === undefined) throw hostileXml(host, `${what} has an unknown unit '${unit.slice(0, 20)}'`);
  const kib = Math.round(Number(text) * f);
  if (!Number.isSafeInteger(kib) || kib > 64 * 1024 ** 3) throw hostileXml(host, `${what} ${text} ${unit} is absurd`);
  return kib;
}

function intIn(text: string | undefined, min: number, max: number, host: string, what: string): number {
  const t = (text ?? '').trim();
  if (!/^\d{1,12}$/.test(t)) throw hostileXml(host, `${what} '${t.slice(0, 30)}' is not a number`);
  const n = Number(t);
  if (n < min || n > max) throw hostileXml(host, `${what} ${t} is out of range (${min}–${max})`);
  return n;
}

/** Short strings from the host: bounded, control characters removed. */
function clean(s: string | undefined | null, max = 1024): string | null {
  if (s === undefined || s === null) return null;
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').slice(0, max);
}

export function libosinfoId(metadata: XmlElement | undefined): string | null {
  if (!metadata) return null;
  for (const el of metadata.children) {
    const ns = Object.entries(el.attrs).find(([k]) => k.startsWith('xmlns'))?.[1];
    if (ns !== 'http://libosinfo.org/xmlns/libvirt/domain/1.0') continue;
    const os = child(el, 'os');
    const id = os ? attr(os, 'id') : undefined;
    if (id) return clean(id, 256);
  }
  return null;
}

/** The hardware of a domain from its XML (live or inactive). */
export function parseDomainXml(xml: string, host: string): DomainDescription {
  const root = parseHostXml(xml, host, 'domain XML');
  if (root.name !== 'domain') throw hostileXml(host, `the root element is <${root.name.slice(0, 30)}>, not <domain>`);
  const name = clean(child(root, 'name')?.text.trim() ?? '', 256) ?? '';
  if (!name) throw hostileXml(host, 'the domain has no name');
  const uuid = (child(root, 'uuid')?.text ?? '').trim().toLowerCase();
  if (!UUID_RE.test(uuid)) throw hostileXml(host, `the domain '${name}' has no valid UUID`);
  const os = child(root, 'os');
  const osType = os ? child(os, 'type') : undefined;
  const loader = os ? child(os, 'loader') : undefined;
  const firmware: 'bios' | 'uefi' =
    (os && attr(os, 'firmware') === 'efi') || (loader && (attr(loader, 'type') === 'pflash' || /OVMF|edk2|efi/i.test(loader.text))) ? 'uefi' : 'bios';
  const devices = child(root, 'devices');
  const devs = devices?.children ?? [];
  if (devs.length > 4 * MAX_DEVICES) throw hostileXml(host, `the domain '${name}' has ${devs.length} devices`);

  const disks: DomainDisk[] = [];
  for (const d of devices ? childrenOf(devices, 'disk') : []) {
    const device = attr(d, 'device') ?? 'disk';
    if (device !== 'disk' && device !== 'cdrom') continue;
    const src = child(d, 'source');
    const target = child(d, 'target');
    const driver = child(d, 'driver');
    const source = src ? (attr(src, 'file') ?? attr(src, 'dev') ?? attr(src, 'name') ?? null) : null;
    const pool = src ? attr(src, 'pool') : undefined;
    const volume = src ? attr(src, 'volume') : undefined;
    disks.push({
      device,
      bus: clean(target ? attr(target, 'bus') : undefined, 32) ?? 'unknown',
      target: clean(target ? attr(target, 'dev') : undefined, 32) ?? '',
      source: clean(source, 4096),
      format: clean(driver ? attr(driver, 'type') : undefined, 32),
      ...(pool !== undefined ? { pool: clean(pool, 256)! } : {}),
      ...(volume !== undefined ? { volume: clean(volume, 256)! } : {}),
      readOnly: child(d, 'readonly') !== undefined || device === 'cdrom',
    });
  }
  const nics: DomainNic[] = [];
  for (const n of devices ? childrenOf(devices, 'interface') : []) {
    const src = child(n, 'source');
    const model = child(n, 'model');
    const mac = child(n, 'mac');
    nics.push({
      type: clean(attr(n, 'type'), 32) ?? 'unknown',
      source: clean(src ? (attr(src, 'network') ?? attr(src, 'bridge') ?? attr(src, 'dev') ?? null) : null, 256),
      model: clean(model ? attr(model, 'type') : undefined, 32),
      mac: clean(mac ? attr(mac, 'address') : undefined, 32),
    });
  }
  const graphics: DomainGraphics[] = [];
  for (const g of devices ? childrenOf(devices, 'graphics') : []) {
    const listenEl = child(g, 'listen');
    const port = attr(g, 'port');
    const portN = port !== undefined && /^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65536 ? Number(port) : null;
    const sockType = listenEl && attr(listenEl, 'type') === 'socket';
    graphics.push({
      type: clean(attr(g, 'type'), 32) ?? 'unknown',
      port: sockType ? null : portN,
      listen: clean(attr(g, 'listen') ?? (listenEl && !sockType ? attr(listenEl, 'address') : undefined) ?? null, 256),
      socket: clean(attr(g, 'socket') ?? (listenEl && sockType ? attr(listenEl, 'socket') : undefined) ?? null, 4096),
    });
  }
  const serialEls = devices ? childrenOf(devices, 'serial') : [];
  if (disks.length > MAX_DEVICES || nics.length > MAX_DEVICES || graphics.length > MAX_DEVICES || serialEls.length > MAX_DEVICES) {
    throw hostileXml(host, `the domain '${name}' has more than ${MAX_DEVICES} devices of one kind`);
  }
  const serialPorts = serialEls.map((s) => {
    const src = child(s, 'source');
    return { type: clean(attr(s, 'type'), 32) ?? 'unknown', path: clean(src ? (attr(src, 'path') ?? null) : null, 4096) };
  });
  const vcpuEl = child(root, 'vcpu');
  const nvramEl = os ? child(os, 'nvram') : undefined;
  return {
    uuid,
    name,
    type: clean(attr(root, 'type'), 32) ?? 'unknown',
    memoryKiB: memoryKiB(child(root, 'memory'), host, 'memory'),
    vcpus: intIn(vcpuEl?.text, 1, 16384, host, 'vcpu'),
    firmware,
    machine: clean(osType ? attr(osType, 'machine') : undefined, 64),
    arch: clean(osType ? attr(osType, 'arch') : undefined, 32),
    disks,
    nics,
    graphics,
    serials: serialEls.length,
    osId: libosinfoId(child(root, 'metadata')),
    description: clean(child(root, 'description')?.text ?? null, 4096),
    serialPorts,
    nvram: clean(nvramEl ? nvramEl.text.trim() || null : null, 4096),
  };
}
