/**
 * The argv builder against golden files (one argv element per line). Run with
 * UPDATE_GOLDENS=1 to rewrite them after an intended change, then review the diff.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RUNTIME_FILES, SWTPM_FILES, bridgeHelperNics, buildQemuArgv, nicMirrorSocket, opt, resolveDiskPath, virtiofsdFiles, VDAGENT_IDS } from '../../../../src/core/qemu/argv';
import type { LaunchOptions, QemuHostFacts, VmPaths } from '../../../../src/core/qemu/argv';
import type { VmConfig } from '../../../../src/core/domain/config';
import { UUID_B, rawCdrom, rawDisk, rawNic, validConfig } from '../../helpers/config';

const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const UPDATE = process.env['UPDATE_GOLDENS'] === '1';

const KVM: QemuHostFacts = { binary: '/usr/bin/qemu-system-x86_64', accel: 'kvm', ovmfCode: null };
const KVM_OVMF: QemuHostFacts = { ...KVM, ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd' };
const TCG: QemuHostFacts = { ...KVM, accel: 'tcg' };
/** Debian 12's ovmf: the plain image and the Secure Boot one its descriptors name (40-edk2-x86_64-secure-enrolled.json). */
const KVM_OVMF_SB: QemuHostFacts = {
  ...KVM,
  ovmfCode: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  secureBoot: { code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', format: 'raw', requiresSmm: true },
};

function pathsFor(vmDir: string, runDir = '/run/user/1000/nestbox/3f2a1b0c9d/0b3c9f2e'): VmPaths {
  return {
    vmDir,
    runDir,
    serialLog: path.join(vmDir, 'logs', 'serial.log'),
    efiVars: path.join(vmDir, 'efivars.qcow2'),
  };
}

const COLD: LaunchOptions = { incoming: false };

interface GoldenCase {
  readonly name: string;
  readonly cfg: VmConfig;
  readonly host: QemuHostFacts;
  readonly paths: VmPaths;
  readonly launch: LaunchOptions;
}

const CASES: readonly GoldenCase[] = [
  {
    name: 'linux-bios-virtio-iso-nat',
    cfg: validConfig(),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'windows-uefi-sata-e1000-empty-cd',
    cfg: validConfig({
      uuid: UUID_B,
      name: 'Windows 11',
      osType: 'windows-11',
      memoryMiB: 4096,
      cpus: 4,
      firmware: 'uefi',
      disks: [rawDisk({ bus: 'sata', file: 'Windows 11.qcow2' })],
      cdroms: [rawCdrom({ iso: null })],
      bootOrder: ['cdrom', 'disk'],
      nics: [rawNic({ model: 'e1000', mac: '52:54:00:ab:cd:ef' })],
    }),
    host: KVM_OVMF,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Windows 11'),
    launch: COLD,
  },
  {
    // The Windows 11 preset (ostypes.ts): UEFI with Secure Boot (SMM, secure pflash), a TPM
    // 2.0 through swtpm, a SATA disk and e1000e. Its swtpm invocation: swtpm.test.ts.
    name: 'windows-11-preset-secureboot-tpm',
    cfg: validConfig({
      uuid: UUID_B,
      name: 'Windows 11',
      osType: 'windows-11',
      memoryMiB: 4096,
      cpus: 2,
      firmware: 'uefi',
      secureBoot: true,
      tpm: true,
      disks: [rawDisk({ bus: 'sata', file: 'Windows 11.qcow2' })],
      cdroms: [rawCdrom({ iso: '/home/ada/Downloads/Win11_24H2_English_x64.iso' })],
      bootOrder: ['cdrom', 'disk'],
      nics: [rawNic({ model: 'e1000e', mac: '52:54:00:ab:cd:ef' })],
    }),
    host: KVM_OVMF_SB,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Windows 11'),
    launch: COLD,
  },
  {
    name: 'pc-ide-disks',
    cfg: validConfig({
      name: 'Windows XP',
      osType: 'windows-xp',
      memoryMiB: 512,
      cpus: 1,
      machine: 'pc',
      disks: [
        rawDisk({ bus: 'ide', file: 'system.vdi', format: 'vdi' }),
        rawDisk({ id: 'disk1', bus: 'ide', file: '/mnt/images/data.img', format: 'raw', owned: false, readOnly: true }),
      ],
      cdroms: [rawCdrom({ iso: '/srv/isos/winxp.iso' })],
      bootOrder: ['disk', 'cdrom', 'network'],
      nics: [rawNic({ model: 'rtl8139' })],
    }),
    host: TCG,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Windows XP'),
    launch: COLD,
  },
  {
    name: 'headless-no-serial',
    cfg: validConfig({
      name: 'builder',
      display: { adapter: 'none' },
      serial: { enabled: false },
      disks: [rawDisk({ bus: 'nvme' })],
      cdroms: [],
      bootOrder: ['network', 'disk'],
      nics: [rawNic(), rawNic({ id: 'net1', mode: 'none', mac: '52:54:00:12:34:57' })],
    }),
    host: TCG,
    paths: pathsFor('/var/lib/nestbox/machines/builder'),
    launch: COLD,
  },
  {
    name: 'commas-and-spaces',
    cfg: validConfig({
      name: 'My VM (copy 2)',
      display: { adapter: 'virtio' },
      disks: [rawDisk({ file: 'disk,0 final.qcow2' }), rawDisk({ id: 'disk1', file: '/mnt/a,b/c,,d.raw', format: 'raw', owned: false })],
      cdroms: [rawCdrom({ iso: '/srv/isos/debian 12,netinst.iso' })],
    }),
    host: KVM,
    paths: pathsFor('/home/ada/VMs, old/My VM (copy 2)', '/tmp/run,time dir/0b3c9f2e'),
    launch: COLD,
  },
  {
    name: 'nat-subnet-restrict-forwards',
    cfg: validConfig({
      nics: [
        rawNic({
          natNetwork: '10.0.3.0/24',
          restrict: true,
          forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }],
        }),
      ],
    }),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'bridged-helper',
    cfg: validConfig({ nics: [rawNic({ mode: 'bridged', bridge: 'br0' })] }),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'bridged-helper-pc-boot',
    cfg: validConfig({ machine: 'pc', bootOrder: ['network', 'disk'], nics: [rawNic({ mode: 'bridged', bridge: 'br0' }), rawNic({ id: 'net1', mode: 'bridged', bridge: 'virbr0', mac: '52:54:00:00:00:01' })] }),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'bridged-tap',
    cfg: validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'tap', tap: 'nbtap0', bridge: 'br0', model: 'e1000' })] }),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'bridged-vmnet-macos',
    cfg: validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'vmnet', bridge: 'en0' })] }),
    host: TCG,
    paths: pathsFor('/Users/ada/Library/Application Support/Nestbox/machines/Debian 12', '/tmp/nestbox-501/3f2a1b0c9d/0b3c9f2e'),
    launch: COLD,
  },
  {
    name: 'bridged-windows-tap',
    cfg: validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'windows-tap', bridge: 'OpenVPN TAP-Windows6' })] }),
    host: TCG,
    paths: pathsFor('C:/Users/ada/AppData/Roaming/Nestbox/machines/Debian 12', 'C:/Users/ada/AppData/Local/Temp/nestbox-0/3f2a1b0c9d/0b3c9f2e'),
    launch: COLD,
  },
  {
    name: 'internal-and-nat-eight-adapters',
    cfg: validConfig({
      bootOrder: ['disk', 'network'],
      nics: [
        rawNic(),
        rawNic({ id: 'net1', mode: 'internal', network: 'lab', mac: '52:54:00:00:00:01' }),
        rawNic({ id: 'net2', mode: 'internal', network: 'lab-2', model: 'e1000', mac: '52:54:00:00:00:02' }),
        rawNic({ id: 'net3', mode: 'none', mac: '52:54:00:00:00:03' }),
        rawNic({ id: 'net4', mode: 'nat', natNetwork: '192.168.100.0/24', mac: '52:54:00:00:00:04' }),
        rawNic({ id: 'net5', mode: 'internal', network: 'lab', model: 'rtl8139', mac: '52:54:00:00:00:05' }),
        rawNic({ id: 'net6', mode: 'bridged', bridgeVia: 'tap', tap: 'tap6', mac: '52:54:00:00:00:06' }),
        rawNic({ id: 'net7', mode: 'nat', restrict: true, mac: '02:00:00:00:00:07' }),
      ],
    }),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'incoming-saved-state',
    cfg: validConfig(),
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: { incoming: true },
  },
  {
    // A new VM as created today: the agent's port, and NAT counters from the agent (no mirror).
    name: 'guest-agent-clipboard',
    cfg: validConfig({ guestAgent: true }),
    host: { ...KVM, clipboard: 'argv' },
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    name: 'nat-mirrored-counters',
    cfg: { ...validConfig(), nics: validConfig().nics.map((n) => ({ ...n, mirrorCounters: true })) },
    host: KVM,
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    // Shares through virtiofsd (one per share, started by the core): the RAM becomes a shared
    // memfd, only here. The read-only share is read-only in virtiofsd's mount namespace
    // (virtiofsd.test.ts), so its device looks like the read-write one.
    name: 'shares-virtiofs',
    cfg: validConfig({
      shares: [
        { tag: 'projects', path: '/home/ada/projects', readOnly: false },
        { tag: 'isos', path: '/srv/isos, old', readOnly: true },
      ],
      // Page sharing moves from the machine to the RAM backend.
      resources: { memMerge: false },
    }),
    host: { ...KVM, shares: 'virtiofs' },
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
  {
    // Where virtiofsd is missing: QEMU's own 9p, read-only enforced by QEMU (readonly=on).
    name: 'shares-9p',
    cfg: validConfig({
      shares: [
        { tag: 'projects', path: '/home/ada/projects', readOnly: false },
        { tag: 'isos', path: '/srv/isos, old', readOnly: true },
      ],
    }),
    host: { ...KVM, shares: '9p' },
    paths: pathsFor('/home/ada/.local/share/nestbox/machines/Debian 12'),
    launch: COLD,
  },
];

function build(c: GoldenCase): string[] {
  return buildQemuArgv(c.cfg, c.host, c.paths, c.launch);
}

/** The value following each occurrence of `flag`. */
function valuesOf(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === flag) {
      const v = argv[i + 1];
      if (v === undefined) throw new Error(`${flag} has no value`);
      out.push(v);
    }
  });
  return out;
}

/**
 * Splits a QEMU option list on single commas, undoing the `,,` escape, so a test can read
 * the value of a key exactly as QEMU's parser would.
 */
function parseOptionList(s: string): Map<string, string> {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === ',') {
      if (s[i + 1] === ',') {
        cur += ',';
        i++;
      } else {
        parts.push(cur);
        cur = '';
      }
    } else {
      cur += ch;
    }
  }
  parts.push(cur);
  const m = new Map<string, string>();
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) m.set(p, '');
    else m.set(p.slice(0, eq), p.slice(eq + 1));
  }
  return m;
}

describe('buildQemuArgv: golden files', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const argv = build(c);
    for (const a of argv) expect(a, 'an argv element must not span lines').not.toMatch(/[\r\n]/);
    const actual = argv.join('\n') + '\n';
    const file = path.join(GOLDEN_DIR, `${name}.argv`);
    if (UPDATE) {
      fs.mkdirSync(GOLDEN_DIR, { recursive: true });
      fs.writeFileSync(file, actual);
    }
    expect(fs.existsSync(file), `golden ${file} is missing; run with UPDATE_GOLDENS=1`).toBe(true);
    expect(actual).toBe(fs.readFileSync(file, 'utf8'));
  });

  it('has no stale golden files', () => {
    const expected = new Set(CASES.map((c) => `${c.name}.argv`));
    const present = fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.argv'));
    expect(present.sort()).toEqual([...expected].sort());
  });
});

describe('bridgeHelperNics', () => {
  it('lists the adapters the core attaches through qemu-bridge-helper, with their boot index', () => {
    const c = CASES.find((x) => x.name === 'bridged-helper-pc-boot')!;
    expect(bridgeHelperNics(c.cfg).map((n) => [n.nic.id, n.bootIndex])).toEqual([
      ['net0', 100],
      ['net1', 101],
    ]);
    expect(build(c).filter((a) => a.startsWith('bridge') || a.includes('helper'))).toEqual([]);
  });
});

describe('buildQemuArgv: safety invariants (every case)', () => {
  describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const argv = build(c);
    const joined = argv.join(' ');

    it('disables defaults, user config, and sandboxes QEMU', () => {
      expect(argv).toContain('-nodefaults');
      expect(argv).toContain('-no-user-config');
      expect(valuesOf(argv, '-sandbox')).toEqual(['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
    });

    it('gives every -blockdev an explicit driver, and never uses -drive or legacy disk flags', () => {
      for (const bd of valuesOf(argv, '-blockdev')) {
        expect(bd, bd).toMatch(/^driver=[a-z0-9]+,/);
        const driver = parseOptionList(bd).get('driver');
        expect(['file', 'raw', 'qcow2', 'vdi', 'vmdk', 'vpc', 'vhdx']).toContain(driver);
        expect(parseOptionList(bd).has('node-name')).toBe(true);
      }
      for (const banned of ['-drive', '-hda', '-hdb', '-hdc', '-hdd', '-cdrom', '-fda', '-snapshot']) {
        expect(argv).not.toContain(banned);
      }
    });

    it('gives each disk a format node with the configured driver on top of a file node', () => {
      const blockdevs = valuesOf(argv, '-blockdev').map(parseOptionList);
      for (const d of c.cfg.disks) {
        const fmt = blockdevs.find((b) => b.get('node-name') === d.id);
        expect(fmt?.get('driver')).toBe(d.format);
        expect(fmt?.get('file')).toBe(`${d.id}-file`);
        const file = blockdevs.find((b) => b.get('node-name') === `${d.id}-file`);
        expect(file?.get('driver')).toBe('file');
        expect(file?.get('filename')).toBe(resolveDiskPath(c.paths.vmDir, d.file));
        expect(file?.get('read-only')).toBe(d.readOnly ? 'on' : 'off');
      }
    });

    it('opens no TCP listener: QMP, VNC and serial are unix sockets in the run dir', () => {
      // The only listeners are the port forwards the user asked for, each where its rule says.
      const asked = c.cfg.nics.flatMap((n) => n.forwards.map((f) => `,hostfwd=${f.protocol}:${f.hostAddress}:${f.hostPort}-${f.guestAddress}:${f.guestPort}`));
      const rest = asked.reduce((s, f) => s.replace(f, ''), joined);
      expect(rest).not.toMatch(/tcp:/);
      expect(rest).not.toMatch(/hostfwd|guestfwd|websocket|telnet/);
      for (const v of valuesOf(argv, '-vnc')) expect(v).toMatch(/^unix:/);
      // Two monitors: lifecycle control, and the sampler's own (statistics never queue behind control).
      const qmp = valuesOf(argv, '-qmp');
      expect(qmp).toHaveLength(2);
      for (const q of qmp) expect(q).toMatch(/^unix:/);
      expect(parseOptionList(qmp[0]!.slice('unix:'.length)).has(path.join(c.paths.runDir, RUNTIME_FILES.qmp))).toBe(true);
      expect(parseOptionList(qmp[1]!.slice('unix:'.length)).has(path.join(c.paths.runDir, RUNTIME_FILES.qmpStats))).toBe(true);
      for (const ch of valuesOf(argv, '-chardev')) {
        // The clipboard agent is an in-process backend with no socket at all.
        if (ch.startsWith('qemu-vdagent,')) {
          expect(parseOptionList(ch).has('path')).toBe(false);
          continue;
        }
        expect(ch).toMatch(/^socket,/);
        // The serial port, the monitor qemu-bridge-helper hands its tap to, the guest agent's
        // port, a NIC's mirrored frames for the traffic counters, or the VM's swtpm.
        const id = parseOptionList(ch).get('id')!;
        const m = /^(.+)-m(rx|tx)$/.exec(id);
        const expected =
          id === 'fdmon'
            ? RUNTIME_FILES.fdMonitor
            : id === 'qga0'
              ? RUNTIME_FILES.agent
              : id === 'chrtpm'
                ? SWTPM_FILES.ctrl
                : /^fs\d+$/.test(id)
                  ? path.basename(virtiofsdFiles(c.paths.runDir, c.cfg.shares![Number(id.slice(2))]!.tag).socket)
                : m
                  ? nicMirrorSocket(m[1]!, m[2] as 'rx' | 'tx')
                  : RUNTIME_FILES.serial;
        expect(parseOptionList(ch).get('path')).toBe(path.join(c.paths.runDir, expected));
        expect(parseOptionList(ch).has('host')).toBe(false);
        expect(parseOptionList(ch).has('port')).toBe(false);
      }
      expect(argv).not.toContain('-monitor');
      expect(argv).not.toContain('-gdb');
      expect(argv).not.toContain('-s');
      expect(argv).not.toContain('-spice');
    });

    it('starts stopped (-S) and writes a pidfile in the run dir', () => {
      expect(argv).toContain('-S');
      expect(valuesOf(argv, '-pidfile')).toEqual([path.join(c.paths.runDir, RUNTIME_FILES.pidfile)]);
    });

    it('waits for an incoming migration only when asked', () => {
      expect(valuesOf(argv, '-incoming')).toEqual(c.launch.incoming ? ['defer'] : []);
    });

    it('names the VM and its uuid', () => {
      expect(valuesOf(argv, '-uuid')).toEqual([c.cfg.uuid]);
      expect(parseOptionList(valuesOf(argv, '-name')[0]!).get('guest')).toBe(c.cfg.name);
    });

    it('never lets an option value start with a dash where a flag is expected', () => {
      // Flags and values alternate from the start: a value must never be taken for a flag.
      for (const v of [...valuesOf(argv, '-name'), ...valuesOf(argv, '-blockdev'), ...valuesOf(argv, '-device')]) {
        expect(v.startsWith('-')).toBe(false);
      }
    });

    it('gives every -device id and bootindex a unique value', () => {
      const devices = valuesOf(argv, '-device').map(parseOptionList);
      const ids = devices.map((d) => d.get('id')).filter((x): x is string => x !== undefined);
      expect(new Set(ids).size).toBe(ids.length);
      const boots = devices.map((d) => d.get('bootindex')).filter((x): x is string => x !== undefined);
      expect(new Set(boots).size).toBe(boots.length);
    });
  });
});

describe('buildQemuArgv: escaping', () => {
  const c = CASES.find((x) => x.name === 'commas-and-spaces')!;
  const argv = build(c);

  it('doubles commas in every path inside an option list, so QEMU reads the real path back', () => {
    const blockdevs = valuesOf(argv, '-blockdev').map(parseOptionList);
    const filenames = blockdevs.map((b) => b.get('filename')).filter((x): x is string => x !== undefined);
    expect(filenames).toEqual([
      '/home/ada/VMs, old/My VM (copy 2)/disk,0 final.qcow2',
      '/mnt/a,b/c,,d.raw',
      '/srv/isos/debian 12,netinst.iso',
    ]);
    expect(argv).toContain('driver=file,filename=/mnt/a,,b/c,,,,d.raw,node-name=disk1-file,read-only=off');
    const serial = parseOptionList(valuesOf(argv, '-chardev').find((c) => c.startsWith('socket,id=serial0'))!);
    expect(serial.get('logfile')).toBe('/home/ada/VMs, old/My VM (copy 2)/logs/serial.log');
    expect(serial.get('path')).toBe('/tmp/run,time dir/0b3c9f2e/serial.sock');
    expect(valuesOf(argv, '-vnc')).toEqual(['unix:/tmp/run,,time dir/0b3c9f2e/vnc.sock']);
    expect(valuesOf(argv, '-qmp')).toEqual([
      'unix:/tmp/run,,time dir/0b3c9f2e/qmp.sock,server=on,wait=off',
      'unix:/tmp/run,,time dir/0b3c9f2e/qmp-stats.sock,server=on,wait=off',
    ]);
  });

  it('passes a plain (non option-list) path such as -pidfile through untouched', () => {
    expect(valuesOf(argv, '-pidfile')).toEqual(['/tmp/run,time dir/0b3c9f2e/qemu.pid']);
  });

  it('keeps spaces as they are (argv is never a shell string)', () => {
    expect(valuesOf(argv, '-name')).toEqual(['guest=My VM (copy 2),debug-threads=on']);
  });

  it('opt() doubles every comma and nothing else', () => {
    expect(opt('a,b,,c')).toBe('a,,b,,,,c');
    expect(opt('no commas = fine')).toBe('no commas = fine');
    expect(opt('')).toBe('');
  });

  it('escapes the UEFI firmware and vars paths too', () => {
    const cfg = validConfig({ firmware: 'uefi' });
    const out = buildQemuArgv(cfg, { ...KVM, ovmfCode: '/opt/fw,1/OVMF.fd' }, pathsFor('/vms/a,b'), COLD);
    const filenames = valuesOf(out, '-blockdev').map((b) => parseOptionList(b).get('filename'));
    expect(filenames).toContain('/opt/fw,1/OVMF.fd');
    expect(filenames).toContain('/vms/a,b/efivars.qcow2');
  });
});

describe('buildQemuArgv: sections', () => {
  it('uses the host CPU with a hardware accelerator and "max" with TCG', () => {
    const cfg = validConfig();
    const paths = pathsFor('/vms/x');
    expect(valuesOf(buildQemuArgv(cfg, KVM, paths, COLD), '-cpu')).toEqual(['host']);
    expect(valuesOf(buildQemuArgv(cfg, KVM, paths, COLD), '-accel')).toEqual(['kvm']);
    expect(valuesOf(buildQemuArgv(cfg, TCG, paths, COLD), '-cpu')).toEqual(['max']);
    expect(valuesOf(buildQemuArgv(cfg, TCG, paths, COLD), '-accel')).toEqual(['tcg']);
  });

  it('keeps Windows guests on local time and others on UTC', () => {
    const paths = pathsFor('/vms/x');
    expect(valuesOf(buildQemuArgv(validConfig({ osType: 'windows-10' }), KVM, paths, COLD), '-rtc')).toEqual(['base=localtime']);
    expect(valuesOf(buildQemuArgv(validConfig(), KVM, paths, COLD), '-rtc')).toEqual(['base=utc']);
  });

  it('wires UEFI firmware as read-only code plus a qcow2 vars store', () => {
    const out = buildQemuArgv(validConfig({ firmware: 'uefi' }), KVM_OVMF, pathsFor('/vms/x'), COLD);
    expect(valuesOf(out, '-machine')).toEqual(['type=q35,pflash0=fw-code,pflash1=fw-vars']);
    const bds = valuesOf(out, '-blockdev').map(parseOptionList);
    const code = bds.find((b) => b.get('node-name') === 'fw-code');
    const vars = bds.find((b) => b.get('node-name') === 'fw-vars');
    expect(code?.get('driver')).toBe('raw');
    expect(code?.get('read-only')).toBe('on');
    expect(vars?.get('driver')).toBe('qcow2');
    expect(vars?.get('read-only')).toBeUndefined();
  });

  it('refuses Secure Boot when the host has no Secure Boot firmware, naming the package', () => {
    expect(() => buildQemuArgv(validConfig({ firmware: 'uefi', secureBoot: true }), KVM_OVMF, pathsFor('/vms/x'), COLD)).toThrow(/Secure Boot was not found.*ovmf/);
  });

  it('without Secure Boot keeps the plain firmware, no SMM and no secure pflash', () => {
    const argv = buildQemuArgv(validConfig({ firmware: 'uefi' }), KVM_OVMF_SB, pathsFor('/vms/x'), COLD);
    expect(argv.join(' ')).toContain('filename=/usr/share/OVMF/OVMF_CODE_4M.fd,');
    expect(argv.join(' ')).not.toMatch(/smm=on|cfi\.pflash01|tpm/);
  });

  it('throws for UEFI when no OVMF code image is known', () => {
    expect(() => buildQemuArgv(validConfig({ firmware: 'uefi' }), KVM, pathsFor('/vms/x'), COLD)).toThrow(/UEFI firmware \(OVMF\) was not found/);
  });

  it('does not need OVMF for BIOS guests', () => {
    expect(() => buildQemuArgv(validConfig(), KVM, pathsFor('/vms/x'), COLD)).not.toThrow();
  });

  it('resolves relative disk paths against the VM folder and keeps absolute ones', () => {
    expect(resolveDiskPath('/vms/a', 'disk.qcow2')).toBe('/vms/a/disk.qcow2');
    expect(resolveDiskPath('/vms/a', 'sub/disk.qcow2')).toBe('/vms/a/sub/disk.qcow2');
    expect(resolveDiskPath('/vms/a', '/elsewhere/disk.qcow2')).toBe('/elsewhere/disk.qcow2');
  });

  it('allows exactly six SATA/IDE devices on q35', () => {
    const cfg = validConfig({
      disks: [0, 1, 2].map((i) => rawDisk({ id: `disk${i}`, bus: 'sata' })),
      cdroms: [0, 1, 2].map((i) => rawCdrom({ id: `cd${i}` })),
    });
    const out = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    const buses = valuesOf(out, '-device')
      .map(parseOptionList)
      .map((d) => d.get('bus'))
      .filter((b): b is string => b !== undefined && b.startsWith('ide.'));
    expect(buses).toEqual(['ide.0', 'ide.1', 'ide.2', 'ide.3', 'ide.4', 'ide.5']);
  });

  it('throws with more than six SATA/IDE devices on q35', () => {
    const cfg = validConfig({
      disks: [0, 1, 2, 3].map((i) => rawDisk({ id: `disk${i}`, bus: i % 2 ? 'ide' : 'sata' })),
      cdroms: [0, 1, 2].map((i) => rawCdrom({ id: `cd${i}` })),
    });
    expect(() => buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD)).toThrow(/too many SATA\/IDE devices/);
  });

  it('throws with more than four IDE devices on pc', () => {
    const cfg = validConfig({
      machine: 'pc',
      disks: [0, 1, 2, 3].map((i) => rawDisk({ id: `disk${i}`, bus: 'ide' })),
      cdroms: [rawCdrom({ iso: null })],
    });
    expect(() => buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD)).toThrow(/too many IDE devices/);
  });

  it('does not count virtio and NVMe disks against the ATA ports', () => {
    const cfg = validConfig({
      disks: [
        ...[0, 1, 2, 3, 4].map((i) => rawDisk({ id: `v${i}`, bus: 'virtio' })),
        ...[0, 1, 2].map((i) => rawDisk({ id: `n${i}`, bus: 'nvme' })),
      ],
      cdroms: [0, 1, 2, 3].map((i) => rawCdrom({ id: `cd${i}` })),
    });
    expect(() => buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD)).not.toThrow();
  });

  it('boots devices in the configured order, several disks one after another', () => {
    const cfg = validConfig({
      disks: [rawDisk(), rawDisk({ id: 'disk1' })],
      bootOrder: ['cdrom', 'disk', 'network'],
    });
    const devices = valuesOf(buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD), '-device').map(parseOptionList);
    const boot = (id: string) => devices.find((d) => d.get('id') === id)?.get('bootindex');
    expect(boot('cd0-dev')).toBe('100');
    expect(boot('disk0')).toBe('200');
    expect(boot('disk1')).toBe('201');
    expect(boot('net0-dev')).toBe('300');
  });

  it('gives devices left out of the boot order no bootindex, and a NIC no option ROM', () => {
    const cfg = validConfig({ bootOrder: ['disk'] });
    const devices = valuesOf(buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD), '-device').map(parseOptionList);
    expect(devices.find((d) => d.get('id') === 'cd0-dev')?.has('bootindex')).toBe(false);
    const nic = devices.find((d) => d.get('id') === 'net0-dev');
    expect(nic?.has('bootindex')).toBe(false);
    expect(nic?.get('romfile')).toBe('');
  });

  it('never gives two devices the same bootindex, even with many disks', () => {
    const cfg = validConfig({
      disks: Array.from({ length: 11 }, (_, i) => rawDisk({ id: `disk${i}` })),
      bootOrder: ['disk', 'cdrom'],
    });
    const boots = valuesOf(buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD), '-device')
      .map((d) => parseOptionList(d).get('bootindex'))
      .filter((b): b is string => b !== undefined);
    expect(boots).toHaveLength(12);
    expect(new Set(boots).size).toBe(boots.length);
  });

  it('leaves out NICs whose mode is none', () => {
    const cfg = validConfig({ nics: [rawNic({ mode: 'none' })] });
    const out = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    expect(out).not.toContain('-netdev');
    expect(out.join(' ')).not.toContain('52:54:00:12:34:56');
  });

  it('uses user-mode NAT for a NAT NIC', () => {
    const out = buildQemuArgv(validConfig(), KVM, pathsFor('/vms/x'), COLD);
    expect(valuesOf(out, '-netdev')).toEqual(['user,id=net0']);
  });

  it('has no display, VNC or USB tablet when the display is none', () => {
    const out = buildQemuArgv(validConfig({ display: { adapter: 'none' } }), KVM, pathsFor('/vms/x'), COLD);
    expect(valuesOf(out, '-display')).toEqual(['none']);
    expect(out).not.toContain('-vnc');
    expect(out.join(' ')).not.toContain('usb-tablet');
  });

  it('mirrors no frames unless the adapter asks for mirrored counters (they cost NAT throughput)', () => {
    const out = buildQemuArgv(validConfig(), KVM, pathsFor('/vms/x'), COLD);
    expect(out.join(' ')).not.toContain('filter-mirror');
  });

  it('mirrors a NAT adapter\'s frames both ways to sockets in the run dir when it asks for mirrored counters', () => {
    const base = validConfig();
    const out = buildQemuArgv({ ...base, nics: base.nics.map((n) => ({ ...n, mirrorCounters: true })) }, KVM, pathsFor('/vms/x'), COLD);
    const filters = valuesOf(out, '-object').filter((o) => o.startsWith('filter-mirror,'));
    expect(filters).toEqual(['filter-mirror,id=net0-frx,netdev=net0,queue=tx,outdev=net0-mrx', 'filter-mirror,id=net0-ftx,netdev=net0,queue=rx,outdev=net0-mtx']);
    const chardevs = valuesOf(out, '-chardev').map(parseOptionList).filter((c) => c.get('id')?.startsWith('net0-m'));
    expect(chardevs.map((c) => [c.get('id'), path.basename(c.get('path')!), c.get('server'), c.get('wait')])).toEqual([
      ['net0-mrx', 'net0-rx.sock', 'on', 'off'],
      ['net0-mtx', 'net0-tx.sock', 'on', 'off'],
    ]);
  });

  it('gives a VM with the guest agent a virtio-serial port on a socket in the run dir', () => {
    expect(buildQemuArgv(validConfig(), KVM, pathsFor('/vms/x'), COLD).join(' ')).not.toMatch(/virtio-serial|qga/);
    const out = buildQemuArgv(validConfig({ guestAgent: true }), KVM, pathsFor('/vms/x'), COLD);
    const chr = valuesOf(out, '-chardev').map(parseOptionList).find((c) => c.get('id') === 'qga0')!;
    expect([path.basename(chr.get('path')!), chr.get('server'), chr.get('wait')]).toEqual(['qga.sock', 'on', 'off']);
    expect(valuesOf(out, '-device').filter((d) => /virtio-serial|virtserialport/.test(d))).toEqual([
      'virtio-serial-pci,id=vserial0',
      'virtserialport,bus=vserial0.0,chardev=qga0,id=qga-port,name=org.qemu.guest_agent.0',
    ]);
  });

  it('puts the agent and the clipboard ports on one virtio-serial controller', () => {
    const out = buildQemuArgv(validConfig({ guestAgent: true }), { ...KVM, clipboard: 'argv' }, pathsFor('/vms/x'), COLD);
    const devs = valuesOf(out, '-device');
    expect(devs.filter((d) => d.startsWith('virtio-serial-pci'))).toHaveLength(1);
    expect(devs.filter((d) => d.startsWith('virtserialport')).map((d) => parseOptionList(d).get('name'))).toEqual(['com.redhat.spice.0', 'org.qemu.guest_agent.0']);
  });

  it('adds the resource settings: topology, balloon, mem-merge; nothing without them', () => {
    const plain = buildQemuArgv(validConfig({ cpus: 4 }), KVM, pathsFor('/vms/x'), COLD);
    expect(valuesOf(plain, '-smp')).toEqual(['4']);
    expect(plain.join(' ')).not.toMatch(/balloon|mem-merge/);
    const cfg = validConfig({ cpus: 4, resources: { sockets: 1, cores: 2, threads: 2, balloon: true, memMerge: false, cpuShares: 500 } });
    const out = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    expect(valuesOf(out, '-smp')).toEqual(['cpus=4,sockets=1,cores=2,threads=2']);
    expect(valuesOf(out, '-device')).toContain('virtio-balloon-pci,id=balloon0');
    expect(valuesOf(out, '-machine')).toEqual(['type=q35,mem-merge=off']);
  });

  it('has no serial chardev when serial is disabled', () => {
    const out = buildQemuArgv(validConfig({ serial: { enabled: false } }), KVM, pathsFor('/vms/x'), COLD);
    expect(valuesOf(out, '-chardev').filter((c) => c.startsWith('socket,id=serial0'))).toEqual([]);
    expect(out).not.toContain('-serial');
  });

  it('is pure: the same input gives the same argv and the config is not modified', () => {
    const cfg = validConfig();
    const before = JSON.stringify(cfg);
    const a = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    const b = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(JSON.stringify(cfg)).toBe(before);
  });
});

describe('buildQemuArgv: clipboard', () => {
  it('adds the vdagent clipboard only where QEMU can migrate it, with no socket of its own', () => {
    const cfg = validConfig();
    const without = buildQemuArgv(cfg, KVM, pathsFor('/vms/x'), COLD);
    expect(without.join(' ')).not.toContain('vdagent');
    const withIt = buildQemuArgv(cfg, { ...KVM, clipboard: 'argv' }, pathsFor('/vms/x'), COLD);
    expect(valuesOf(withIt, '-chardev')).toContain('qemu-vdagent,id=vdagent,clipboard=on');
    expect(valuesOf(withIt, '-device')).toContain('virtserialport,bus=vserial0.0,chardev=vdagent,name=com.redhat.spice.0');
    const headless = buildQemuArgv(validConfig({ display: { adapter: 'none' } }), { ...KVM, clipboard: 'argv' }, pathsFor('/vms/x'), COLD);
    expect(headless.join(' ')).not.toContain('vdagent');
  });

  it('gives a hot-plugged clipboard only the controller the core plugs its port on', () => {
    const out = buildQemuArgv(validConfig(), { ...KVM, clipboard: 'hotplug' }, pathsFor('/vms/x'), COLD);
    expect(out.join(' ')).not.toContain('vdagent');
    expect(valuesOf(out, '-device')).toContain('virtio-serial-pci,id=vserial0');
    expect(VDAGENT_IDS.bus).toBe('vserial0.0');
    // Headless, or with the clipboard turned off: no controller for it.
    for (const cfg of [validConfig({ display: { adapter: 'none' } }), validConfig({ clipboard: false })]) {
      expect(valuesOf(buildQemuArgv(cfg, { ...KVM, clipboard: 'hotplug' }, pathsFor('/vms/x'), COLD), '-device').some((d) => d.startsWith('virtio-serial-pci'))).toBe(false);
    }
  });

  it('leaves the clipboard off on the command line of a VM that turned it off', () => {
    const out = buildQemuArgv(validConfig({ clipboard: false, guestAgent: true }), { ...KVM, clipboard: 'argv' }, pathsFor('/vms/x'), COLD);
    expect(out.join(' ')).not.toContain('vdagent');
    expect(valuesOf(out, '-device').filter((d) => d.startsWith('virtserialport')).map((d) => parseOptionList(d).get('name'))).toEqual(['org.qemu.guest_agent.0']);
  });
});
