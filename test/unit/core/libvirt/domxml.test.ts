/**
 * The domain XML builder against golden files, and the reader against hostile XML. Run with
 * UPDATE_GOLDENS=1 to rewrite the goldens after an intended change, then review the diff.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildDomainXml, checkDomainName, domainRef, parseDomainXml, type DomainSpec } from '../../../../src/core/libvirt/domxml';
import { parseXml } from '../../../../src/core/storage/xml';

const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env['UPDATE_GOLDENS'] === '1';

const BASE: DomainSpec = {
  name: 'web-1',
  uuid: '0b3c9f2e-1111-4222-8333-444455556666',
  memoryMiB: 2048,
  cpus: 2,
  firmware: 'bios',
  disks: [{ source: { pool: 'default', volume: 'web-1.qcow2' }, bus: 'virtio', format: 'qcow2' }],
  nics: [{ type: 'network', source: 'default', model: 'virtio', mac: '52:54:00:12:34:56' }],
};

const CASES: readonly { name: string; spec: DomainSpec }[] = [
  { name: 'bios-pool-disk-nat', spec: BASE },
  {
    name: 'uefi-q35-installer',
    spec: {
      ...BASE,
      name: 'debian12',
      firmware: 'uefi',
      cdrom: { pool: 'isos', volume: 'debian-12.iso' },
      bootCdrom: true,
      osId: 'http://debian.org/debian/12',
      description: 'Debian <12> & "friends"',
      nics: [{ type: 'bridge', source: 'br0', model: 'e1000e' }],
    },
  },
  {
    name: 'tcg-pc-paths-serial-log',
    spec: {
      name: 'tiny',
      memoryMiB: 128,
      cpus: 1,
      firmware: 'bios',
      machine: 'pc',
      domainType: 'qemu',
      disks: [
        { source: { path: '/var/lib/libvirt/images/tiny.raw' }, bus: 'sata', format: 'raw' },
        { source: { path: "/srv/vm's disk.qcow2" }, bus: 'sata', format: 'qcow2' },
      ],
      cdrom: { path: '/srv/iso/test.iso' },
      nics: [],
      graphics: 'vnc-localhost',
      serialLog: '/var/log/libvirt/qemu/tiny-serial.log',
    },
  },
  { name: 'headless-socket-path', spec: { ...BASE, name: 'vnc', graphics: 'vnc-socket', vncSocket: '/tmp/x/vnc.sock', nics: [] } },
  { name: 'no-graphics', spec: { ...BASE, name: 'headless', graphics: 'none', disks: [], nics: [] } },
];

describe('buildDomainXml', () => {
  for (const c of CASES) {
    it(`matches golden/${c.name}.xml`, () => {
      const xml = buildDomainXml(c.spec);
      const file = path.join(GOLDEN_DIR, `${c.name}.xml`);
      if (UPDATE) fs.writeFileSync(file, xml);
      expect(xml).toBe(fs.readFileSync(file, 'utf8'));
      // What we build, we can read back (and it passes our own strict parser).
      parseXml(xml);
      const d = parseDomainXml(xml.replace('<name>', `<uuid>${c.spec.uuid ?? '11111111-2222-3333-4444-555555555555'}</uuid><name>`).replace(/<uuid>[^<]*<\/uuid>\n\s*<uuid>/, '<uuid>'), 'test');
      expect(d.name).toBe(c.spec.name);
      expect(d.memoryKiB).toBe(c.spec.memoryMiB * 1024);
      expect(d.vcpus).toBe(c.spec.cpus);
      expect(d.firmware).toBe(c.spec.firmware);
      expect(d.disks.filter((x) => x.device === 'disk')).toHaveLength(c.spec.disks.length);
      expect(d.nics).toHaveLength(c.spec.nics.length);
      if (c.spec.osId) expect(d.osId).toBe(c.spec.osId);
    });
  }

  it('escapes what it writes: a description cannot close its element', () => {
    const xml = buildDomainXml({ ...BASE, description: "</description><devices><disk type='file'/>" });
    expect(xml).toContain('&lt;/description&gt;');
    expect(parseDomainXml(xml, 'x').description).toBe("</description><devices><disk type='file'/>");
  });

  it.each([
    ['memory', { memoryMiB: 0 }, /memory/],
    ['memory', { memoryMiB: 1e12 }, /memory/],
    ['memory', { memoryMiB: 1.5 }, /memory/],
    ['cpus', { cpus: 0 }, /CPUs/],
    ['cpus', { cpus: Number.NaN }, /CPUs/],
    ['uuid', { uuid: 'not-a-uuid' }, /UUID/],
    ['mac', { nics: [{ type: 'network', source: 'default', model: 'virtio', mac: 'zz:zz' }] }, /MAC/],
    ['network', { nics: [{ type: 'network', source: "x'/><evil", model: 'virtio' }] }, /network name/],
    ['pool', { disks: [{ source: { pool: 'a;b', volume: 'v' }, bus: 'virtio', format: 'qcow2' }] }, /pool/],
    ['path', { disks: [{ source: { path: 'relative.qcow2' }, bus: 'virtio', format: 'qcow2' }] }, /absolute/],
    ['path', { disks: [{ source: { path: '/a\nb' }, bus: 'virtio', format: 'qcow2' }] }, /control/],
    ['osId', { osId: 'debian12' }, /libosinfo/],
  ] as const)('refuses a bad %s', (_what, patch, re) => {
    expect(() => buildDomainXml({ ...BASE, ...(patch as Partial<DomainSpec>) })).toThrow(re);
  });
});

describe('checkDomainName', () => {
  it.each(['web', 'web-1', 'Ubuntu_24.04', 'a+b', '9lives'])('accepts %s', (n) => {
    expect(checkDomainName(n)).toBe(n);
  });
  it.each([
    ['vm;rm -rf /', "';'"],
    ['$(reboot)', "'\\$'"],
    ['`id`', "'`'"],
    ['<script>', "'<'"],
    ["it's", "'''"],
    ['a b', "' '"],
    ['a/b', "'/'"],
    ['a\nb', 'U\\+000A'],
    ['a|b', "'\\|'"],
    ['-rf', 'must start'],
    ['.hidden', 'must start'],
    ['', 'required'],
    ['x'.repeat(65), 'longer'],
  ])('refuses %j', (n, why) => {
    let err: unknown;
    try {
      checkDomainName(n);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).toBe('INVALID_ARGUMENT');
    expect((err as Error).message).toMatch(new RegExp(why));
  });
  it('lets a UUID through domainRef untouched (names that exist on a host may be anything)', () => {
    expect(domainRef('0B3C9F2E-1111-4222-8333-444455556666')).toBe('0b3c9f2e-1111-4222-8333-444455556666');
    expect(() => domainRef('x;y')).toThrow(/';'/);
  });
});

const DOMAIN = (inner: string, mem = "<memory unit='KiB'>131072</memory>") =>
  `<domain type='qemu'><name>t1</name><uuid>2682f64d-9277-425f-af6c-1d33f363c18e</uuid>${mem}<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices>${inner}</devices></domain>`;

describe('parseDomainXml (hostile input)', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`;
    }
    return 'accepted';
  };
  it('refuses a DOCTYPE and entities (no billion laughs, no external files)', () => {
    expect(code(() => parseDomainXml(`<!DOCTYPE domain [<!ENTITY x "y">]>${DOMAIN('')}`, 'h'))).toMatch(/^PROTOCOL_ERROR: .*DOCTYPE/);
    expect(code(() => parseDomainXml(DOMAIN('').replace('<name>t1', '<name>&xxe;'), 'h'))).toMatch(/^PROTOCOL_ERROR: .*entity/);
    expect(code(() => parseDomainXml(`<!DOCTYPE d SYSTEM "file:///etc/passwd">${DOMAIN('')}`, 'h'))).toMatch(/^PROTOCOL_ERROR/);
  });
  it('refuses oversize and too deep documents', () => {
    expect(code(() => parseDomainXml(DOMAIN(`<description>${'x'.repeat(5 * 1024 * 1024)}</description>`), 'h'))).toMatch(/^PROTOCOL_ERROR: .*larger/);
    expect(code(() => parseDomainXml(DOMAIN('<a>'.repeat(100) + '</a>'.repeat(100)), 'h'))).toMatch(/^PROTOCOL_ERROR: .*deeper/);
  });
  it('refuses absurd sizes and counts', () => {
    expect(code(() => parseDomainXml(DOMAIN('', "<memory unit='EiB'>1</memory>"), 'h'))).toMatch(/unknown unit/);
    expect(code(() => parseDomainXml(DOMAIN('', "<memory unit='TiB'>99999999</memory>"), 'h'))).toMatch(/absurd/);
    expect(code(() => parseDomainXml(DOMAIN('', '<memory>99999999999999999999999</memory>'), 'h'))).toMatch(/PROTOCOL_ERROR/);
    expect(code(() => parseDomainXml(DOMAIN('', '<memory>-5</memory>'), 'h'))).toMatch(/not a number/);
    expect(code(() => parseDomainXml(DOMAIN('').replace('<vcpu>1</vcpu>', '<vcpu>1e9</vcpu>'), 'h'))).toMatch(/vcpu/);
    expect(code(() => parseDomainXml(DOMAIN("<serial type='pty'/>".repeat(300)), 'h'))).toMatch(/more than 256/);
    expect(code(() => parseDomainXml(DOMAIN('').replace(/<uuid>[^<]*/, '<uuid>../../etc'), 'h'))).toMatch(/UUID/);
  });
  it('cleans control characters and bounds strings it passes on', () => {
    const d = parseDomainXml(DOMAIN(`<graphics type='vnc' port='99999' listen='127.0.0.1&#x1b;[2J'/>`).replace('<name>t1', '<name>t1&#x7;'), 'h');
    expect(d.name).toBe('t1');
    expect(d.graphics[0]!.port).toBeNull();
    expect(d.graphics[0]!.listen).toBe('127.0.0.1[2J');
  });
  it('reads a real libvirt 9.0 live XML (unix-socket VNC, pty serial, volumes)', () => {
    const d = parseDomainXml(
      DOMAIN(
        `<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='default' volume='a.qcow2'/><target dev='vda' bus='virtio'/></disk>
         <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/i.iso' index='1'/><target dev='hdc' bus='ide'/><readonly/></disk>
         <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/><model type='virtio'/></interface>
         <serial type='pty'><source path='/dev/pts/3'/><target port='0'/></serial>
         <graphics type='vnc'><listen type='socket' socket='/var/lib/libvirt/qemu/domain-1-t1/vnc.sock'/></graphics>`,
      ).replace('<os>', `<metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata><os firmware='efi'>`),
      'h',
    );
    expect(d.firmware).toBe('uefi');
    expect(d.osId).toBe('http://debian.org/debian/12');
    expect(d.disks).toEqual([
      { device: 'disk', bus: 'virtio', target: 'vda', source: null, format: 'qcow2', pool: 'default', volume: 'a.qcow2', readOnly: false },
      { device: 'cdrom', bus: 'ide', target: 'hdc', source: '/i.iso', format: 'raw', readOnly: true },
    ]);
    expect(d.nics).toEqual([{ type: 'network', source: 'default', model: 'virtio', mac: '52:54:00:aa:bb:cc' }]);
    expect(d.graphics).toEqual([{ type: 'vnc', port: null, listen: null, socket: '/var/lib/libvirt/qemu/domain-1-t1/vnc.sock' }]);
    expect(d.serials).toBe(1);
  });
});
