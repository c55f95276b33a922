import { describe, expect, it } from 'vitest';
import { CONFIG_VERSION, ConfigError, LIMITS, parseVmConfig, validateName } from '../../../../src/core/domain/config';
import { UUID_A, rawCdrom, rawConfig, rawDisk, rawNic, validConfig } from '../../helpers/config';
import type { RawConfig } from '../../helpers/config';

/** Parses and returns the ConfigError it must throw (fails the test when nothing is thrown). */
function configError(input: unknown): ConfigError {
  try {
    parseVmConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('parseVmConfig accepted an invalid config');
}

function nameError(name: string): ConfigError {
  try {
    validateName(name);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`validateName accepted '${name}'`);
}

describe('parseVmConfig: valid input', () => {
  it('accepts a complete config and returns an equal value', () => {
    const raw = rawConfig();
    const cfg = parseVmConfig(raw);
    expect(cfg).toEqual(raw);
    expect(cfg.version).toBe(CONFIG_VERSION);
  });

  it('returns a fresh value that does not share arrays with the input', () => {
    const raw = rawConfig();
    const cfg = parseVmConfig(raw);
    expect(cfg.disks).not.toBe(raw['disks']);
    expect(cfg.display).not.toBe(raw['display']);
  });

  it('is idempotent: parsing a parsed config (as the database does) gives the same value', () => {
    const cfg = parseVmConfig(rawConfig());
    expect(parseVmConfig(JSON.parse(JSON.stringify(cfg)))).toEqual(cfg);
  });

  it('accepts a minimal diskless live-ISO config', () => {
    const cfg = parseVmConfig(rawConfig({ disks: [], nics: [], bootOrder: ['cdrom'], cdroms: [rawCdrom({ iso: null })] }));
    expect(cfg.disks).toEqual([]);
    expect(cfg.cdroms[0]?.iso).toBeNull();
  });

  it('accepts a Windows UEFI config on q35 with SATA and e1000', () => {
    const cfg = parseVmConfig(
      rawConfig({
        osType: 'windows-11',
        firmware: 'uefi',
        disks: [rawDisk({ bus: 'sata' })],
        nics: [rawNic({ model: 'e1000' })],
      }),
    );
    expect(cfg.firmware).toBe('uefi');
    expect(cfg.disks[0]?.bus).toBe('sata');
  });

  it('accepts the boundary values for memory and CPUs', () => {
    expect(parseVmConfig(rawConfig({ memoryMiB: LIMITS.minMemoryMiB })).memoryMiB).toBe(16);
    expect(parseVmConfig(rawConfig({ memoryMiB: LIMITS.maxMemoryMiB })).memoryMiB).toBe(4 * 1024 * 1024);
    expect(parseVmConfig(rawConfig({ cpus: LIMITS.minCpus })).cpus).toBe(1);
    expect(parseVmConfig(rawConfig({ cpus: LIMITS.maxCpus })).cpus).toBe(255);
  });

  it('accepts the maximum number of disks, CD drives and NICs', () => {
    const disks = Array.from({ length: LIMITS.maxDisks }, (_, i) => rawDisk({ id: `disk${i}`, file: `d${i}.qcow2` }));
    const cdroms = Array.from({ length: LIMITS.maxCdroms }, (_, i) => rawCdrom({ id: `cd${i}` }));
    const nics = Array.from({ length: LIMITS.maxNics }, (_, i) => rawNic({ id: `net${i}`, mac: `52:54:00:00:00:0${i}` }));
    const cfg = parseVmConfig(rawConfig({ disks, cdroms, nics }));
    expect(cfg.disks).toHaveLength(16);
    expect(cfg.cdroms).toHaveLength(4);
    expect(cfg.nics).toHaveLength(8);
  });
});

describe('parseVmConfig: structure', () => {
  it.each([null, undefined, 42, 'config', [], [rawConfig()]])('rejects a non-object (%j)', (input) => {
    expect(configError(input).message).toBe('must be an object');
  });

  it('rejects an unknown top-level key, naming it', () => {
    const err = configError(rawConfig({ memoryMb: 1024 }));
    expect(err.message).toBe("unknown key 'memoryMb'");
    expect(err.path).toBe('');
  });

  it.each<[string, RawConfig, string]>([
    ['a disk', { disks: [rawDisk({ foo: 1 })] }, "disks[0]: unknown key 'foo'"],
    ['the second disk', { disks: [rawDisk(), rawDisk({ id: 'disk1', cache: 'none' })] }, "disks[1]: unknown key 'cache'"],
    ['a CD drive', { cdroms: [rawCdrom({ readOnly: true })] }, "cdroms[0]: unknown key 'readOnly'"],
    ['a NIC', { nics: [rawNic({ hostfwd: 'tcp::22-:22' })] }, "nics[0]: unknown key 'hostfwd'"],
    ['display', { display: { adapter: 'vga', vnc: 'tcp:0.0.0.0:0' } }, "display: unknown key 'vnc'"],
    ['serial', { serial: { enabled: true, tcp: 4444 } }, "serial: unknown key 'tcp'"],
  ])('rejects an unknown key in %s, naming its path', (_what, over, message) => {
    const err = configError(rawConfig(over));
    expect(err.message).toBe(message);
  });

  it.each<[string, RawConfig, string]>([
    ['display missing', { display: undefined }, 'display: must be an object'],
    ['serial as a boolean', { serial: true }, 'serial: must be an object'],
    ['disks not a list', { disks: {} }, 'disks: must be a list'],
    ['a disk that is a string', { disks: ['disk.qcow2'] }, 'disks[0]: must be an object'],
    ['a missing disk field', { disks: [{ id: 'disk0', file: 'a', format: 'qcow2', bus: 'virtio', readOnly: false }] }, 'disks[0].owned: must be true or false'],
    ['readOnly as a string', { disks: [rawDisk({ readOnly: 'no' })] }, 'disks[0].readOnly: must be true or false'],
    ['an unknown disk format', { disks: [rawDisk({ format: 'qed' })] }, 'disks[0].format: must be one of qcow2, raw, vdi, vmdk, vpc, vhdx'],
    ['an unknown disk bus', { disks: [rawDisk({ bus: 'usb' })] }, 'disks[0].bus: must be one of virtio, sata, ide, nvme, scsi'],
    ['an empty disk file', { disks: [rawDisk({ file: '' })] }, 'disks[0].file: must have at least 1 characters'],
    ['a device id with a comma', { disks: [rawDisk({ id: 'disk,0' })] }, "disks[0].id: has an invalid value 'disk,0'"],
    ['a device id starting with a digit', { nics: [rawNic({ id: '0net' })] }, "nics[0].id: has an invalid value '0net'"],
    ['an empty ISO path', { cdroms: [rawCdrom({ iso: '' })] }, 'cdroms[0].iso: must be a path or null'],
    ['an ISO path that is a number', { cdroms: [rawCdrom({ iso: 5 })] }, 'cdroms[0].iso: must be a path or null'],
    ['an unknown NIC model', { nics: [rawNic({ model: 'ne2k_pci' })] }, 'nics[0].model: must be one of virtio-net-pci, e1000, e1000e, rtl8139, vmxnet3, pcnet'],
    ['an unknown NIC mode', { nics: [rawNic({ mode: 'bridge' })] }, 'nics[0].mode: must be one of nat, bridged, internal, none'],
    ['an unknown display adapter', { display: { adapter: 'qxl' } }, 'display.adapter: must be one of vga, virtio, none'],
    ['an unknown boot device', { bootOrder: ['disk', 'floppy'] }, 'bootOrder[1]: must be one of disk, cdrom, network'],
    ['an unknown machine', { machine: 'microvm' }, 'machine: must be one of q35, pc'],
    ['an unknown firmware', { firmware: 'coreboot' }, 'firmware: must be one of bios, uefi'],
    ['an osType with capitals', { osType: 'Linux' }, "osType: has an invalid value 'Linux'"],
    ['a group with a slash', { group: 'a/b' }, "group: has an invalid value 'a/b'"],
  ])('rejects %s', (_what, over, message) => {
    expect(configError(rawConfig(over)).message).toBe(message);
  });

  it('rejects more devices than the limits allow', () => {
    const disks = Array.from({ length: LIMITS.maxDisks + 1 }, (_, i) => rawDisk({ id: `disk${i}` }));
    expect(configError(rawConfig({ disks })).message).toBe('disks: may have at most 16 entries');
    const cdroms = Array.from({ length: LIMITS.maxCdroms + 1 }, (_, i) => rawCdrom({ id: `cd${i}` }));
    expect(configError(rawConfig({ cdroms })).message).toBe('cdroms: may have at most 4 entries');
    const nics = Array.from({ length: LIMITS.maxNics + 1 }, (_, i) => rawNic({ id: `net${i}`, mac: `52:54:00:00:00:0${i}` }));
    expect(configError(rawConfig({ nics })).message).toBe('nics: may have at most 8 entries');
  });
});

describe('parseVmConfig: version', () => {
  it.each([0, 2, '1', null, undefined])('rejects version %j', (version) => {
    const err = configError(rawConfig({ version }));
    expect(err.path).toBe('version');
    expect(err.message).toContain('unsupported config version');
    expect(err.message).toContain('expected 1');
  });
});

describe('parseVmConfig: identifiers', () => {
  it.each([
    'not-a-uuid',
    '0B3C9F2E-5D4A-4E8B-9C1D-2F3A4B5C6D7E',
    '0b3c9f2e5d4a4e8b9c1d2f3a4b5c6d7e',
    '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7',
    ` ${UUID_A}`,
    '',
  ])('rejects uuid %j', (uuid) => {
    expect(configError(rawConfig({ uuid })).path).toBe('uuid');
  });

  it.each([
    ['53:54:00:12:34:56', 'multicast'],
    ['52:54:00:12:34', 'too short'],
    ['52:54:00:12:34:56:78', 'too long'],
    ['52-54-00-12-34-56', 'dashes'],
    ['5254.0012.3456', 'dotted'],
    ['52:54:00:12:34:5g', 'not hex'],
  ])('rejects MAC %s (%s)', (mac) => {
    const err = configError(rawConfig({ nics: [rawNic({ mac })] }));
    expect(err.path).toBe('nics[0].mac');
    expect(err.message).toContain('invalid value');
  });

  it.each(['52:54:00:12:34:56', '02:00:00:00:00:01', 'fe:ff:ff:ff:ff:ff', 'aa:bb:cc:dd:ee:ff'])('accepts locally administered MAC %s', (mac) => {
    expect(parseVmConfig(rawConfig({ nics: [rawNic({ mac })] })).nics[0]?.mac).toBe(mac);
  });

  it('rejects two disks with the same id', () => {
    const err = configError(rawConfig({ disks: [rawDisk(), rawDisk({ file: 'other.qcow2' })] }));
    expect(err.message).toBe("disks: duplicate device id 'disk0'");
  });

  it('rejects a device id shared across device kinds', () => {
    const err = configError(rawConfig({ cdroms: [rawCdrom({ id: 'disk0' })] }));
    expect(err.message).toBe("cdroms: duplicate device id 'disk0'");
    const err2 = configError(rawConfig({ nics: [rawNic({ id: 'cd0' })] }));
    expect(err2.message).toBe("nics: duplicate device id 'cd0'");
  });

  it('rejects two NICs with the same MAC', () => {
    const err = configError(rawConfig({ nics: [rawNic(), rawNic({ id: 'net1', model: 'e1000' })] }));
    expect(err.path).toBe('nics');
    expect(err.message).toContain('same MAC');
  });

  it('rejects a boot device listed twice', () => {
    const err = configError(rawConfig({ bootOrder: ['disk', 'cdrom', 'disk'] }));
    expect(err.message).toBe('bootOrder: lists a device twice');
  });

  it('rejects a boot order longer than the device kinds', () => {
    expect(configError(rawConfig({ bootOrder: ['disk', 'cdrom', 'network', 'disk'] })).path).toBe('bootOrder');
  });
});

describe('parseVmConfig: machine rules', () => {
  it('rejects UEFI with the pc machine', () => {
    const err = configError(rawConfig({ firmware: 'uefi', machine: 'pc', disks: [rawDisk({ bus: 'ide' })] }));
    expect(err.path).toBe('firmware');
    expect(err.message).toContain('q35');
  });

  it('rejects SATA disks with the pc machine', () => {
    const err = configError(rawConfig({ machine: 'pc', disks: [rawDisk({ bus: 'sata' })] }));
    expect(err.path).toBe('disks');
    expect(err.message).toContain('SATA');
  });

  it('accepts IDE disks with the pc machine', () => {
    expect(parseVmConfig(rawConfig({ machine: 'pc', disks: [rawDisk({ bus: 'ide' })] })).machine).toBe('pc');
  });
});

describe('parseVmConfig: memory and CPU bounds', () => {
  it.each([LIMITS.minMemoryMiB - 1, 0, -1, LIMITS.maxMemoryMiB + 1])('rejects memoryMiB %d', (memoryMiB) => {
    const err = configError(rawConfig({ memoryMiB }));
    expect(err.message).toBe(`memoryMiB: must be between ${LIMITS.minMemoryMiB} and ${LIMITS.maxMemoryMiB}`);
  });

  it.each([1024.5, '2048', Number.NaN, Number.POSITIVE_INFINITY, null])('rejects non-integer memoryMiB %j', (memoryMiB) => {
    expect(configError(rawConfig({ memoryMiB })).message).toBe('memoryMiB: must be an integer');
  });

  it.each([0, LIMITS.maxCpus + 1, -2])('rejects cpus %d', (cpus) => {
    expect(configError(rawConfig({ cpus })).message).toBe('cpus: must be between 1 and 255');
  });

  it('rejects fractional cpus', () => {
    expect(configError(rawConfig({ cpus: 1.5 })).message).toBe('cpus: must be an integer');
  });
});

describe('validateName', () => {
  it.each(['Debian 12 (test)', 'a', 'Win11+SP', 'ubuntu-24.04_lts', '9front', 'x'.repeat(LIMITS.maxNameLength)])('accepts %j', (name) => {
    expect(validateName(name)).toBe(name);
  });

  it('rejects an empty name', () => {
    expect(nameError('').message).toContain('1 to 64 characters');
  });

  it('rejects a name longer than the limit', () => {
    expect(nameError('x'.repeat(LIMITS.maxNameLength + 1)).message).toContain('1 to 64 characters');
  });

  it.each([
    ['-rm', 'looks like an option'],
    ['--help', 'looks like an option'],
    ['a/b', 'a path separator'],
    ['a\\b', 'a Windows path separator'],
    ['..', 'a parent folder'],
    ['.hidden', 'a hidden folder'],
    ['name.', 'a trailing dot (Windows strips it)'],
    ['name ', 'a trailing space'],
    [' name', 'a leading space'],
    ['a,b', 'a comma (QEMU option separator)'],
    ['a\nb', 'a newline'],
    ['a:b', 'a colon'],
    ['café', 'non-ASCII'],
  ])('rejects %j (%s)', (name) => {
    expect(nameError(name).message).toContain('is not a valid VM name');
  });

  it('rejects a UUID-looking name, since a ref that looks like a UUID is looked up as one', () => {
    expect(nameError(UUID_A).message).toBe('name: must not look like a UUID');
  });

  it('rejects an upper-case UUID-looking name too', () => {
    expect(nameError(UUID_A.toUpperCase()).message).toBe('name: must not look like a UUID');
  });

  it('uses the given path in its error', () => {
    const err = nameError('-x');
    expect(err.path).toBe('name');
    try {
      validateName('-x', 'changes.name');
    } catch (e) {
      expect((e as ConfigError).path).toBe('changes.name');
      expect((e as ConfigError).message.startsWith('changes.name: ')).toBe(true);
      return;
    }
    throw new Error('not thrown');
  });

  it('parseVmConfig validates the name', () => {
    expect(configError(rawConfig({ name: '-rm' })).path).toBe('name');
    expect(configError(rawConfig({ name: 7 })).message).toBe('name: must be a string');
  });
});

describe('parseVmConfig: port forwarding rules', () => {
  const rule = { name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 };

  it('reads configs written before port forwarding existed as having no rules', () => {
    const raw = rawConfig();
    const nic = { ...(raw.nics as Record<string, unknown>[])[0] };
    delete nic['forwards'];
    expect(parseVmConfig({ ...raw, nics: [nic] }).nics[0]!.forwards).toEqual([]);
  });

  it('accepts valid rules and rejects bad ones with the path', () => {
    const raw = rawConfig();
    const withRules = (forwards: unknown[]) => ({ ...raw, nics: [{ ...(raw.nics as Record<string, unknown>[])[0], forwards }] });
    expect(parseVmConfig(withRules([rule])).nics[0]!.forwards).toEqual([rule]);
    expect(() => parseVmConfig(withRules([{ ...rule, hostPort: 0 }]))).toThrow(/nics\[0\]\.forwards\[0\]\.hostPort/);
    expect(() => parseVmConfig(withRules([{ ...rule, hostAddress: 'localhost' }]))).toThrow(/hostAddress/);
    expect(() => parseVmConfig(withRules([{ ...rule, guestAddress: '10.0.2.300' }]))).toThrow(/not an IPv4 address/);
    expect(() => parseVmConfig(withRules([{ ...rule, protocol: 'sctp' }]))).toThrow(/protocol/);
    expect(() => parseVmConfig(withRules([rule, { ...rule, hostPort: 2223 }]))).toThrow(/same name/);
    expect(() => parseVmConfig(withRules([rule, { ...rule, name: 'other' }]))).toThrow(/same host address and port/);
    expect(() => parseVmConfig(withRules([{ ...rule, extra: 1 }]))).toThrow(/unknown key 'extra'/);
  });
});

describe('network adapters: modes, subnets, bridges, internal networks', () => {
  it('keeps version 1 configs without the new fields parsing as before', () => {
    expect(validConfig().nics[0]).toEqual({ id: 'net0', mode: 'nat', model: 'virtio-net-pci', mac: '52:54:00:12:34:56', forwards: [] });
  });

  it('accepts each mode with what it needs and refuses it without', () => {
    expect(validConfig({ nics: [rawNic({ natNetwork: '10.0.3.0/24', restrict: true })] }).nics[0]).toMatchObject({ natNetwork: '10.0.3.0/24', restrict: true });
    expect(validConfig({ nics: [rawNic({ mode: 'bridged', bridge: 'br0' })] }).nics[0]).toMatchObject({ mode: 'bridged', bridge: 'br0' });
    expect(validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'tap', tap: 'tap0' })] }).nics[0]).toMatchObject({ bridgeVia: 'tap', tap: 'tap0' });
    expect(validConfig({ nics: [rawNic({ mode: 'internal', network: 'lab' })] }).nics[0]).toMatchObject({ mode: 'internal', network: 'lab' });
    expect(() => validConfig({ nics: [rawNic({ mode: 'bridged' })] })).toThrow('nics[0].bridge: a bridged adapter needs the name of a host bridge');
    expect(() => validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'tap' })] })).toThrow(/needs the tap device's name/);
    expect(() => validConfig({ nics: [rawNic({ mode: 'internal' })] })).toThrow(/needs the network's name/);
    expect(() => validConfig({ nics: [rawNic({ mode: 'bridged', bridge: 'br0; rm -rf' })] })).toThrow(/invalid value/);
    expect(() => validConfig({ nics: [rawNic({ mode: 'bridged', bridgeVia: 'usb' , bridge: 'br0'})] })).toThrow(/bridgeVia: must be one of/);
  });

  it('validates NAT subnets', () => {
    expect(() => validConfig({ nics: [rawNic({ natNetwork: '10.0.2.1/24' })] })).toThrow("has host bits set (did you mean 10.0.2.0/24?)");
    expect(() => validConfig({ nics: [rawNic({ natNetwork: '10.0.2.0/30' })] })).toThrow(/between \/8 and \/28/);
    expect(() => validConfig({ nics: [rawNic({ natNetwork: '300.0.2.0/24' })] })).toThrow(/not an IPv4 network/);
  });

  it('takes unicast MACs only, each once per VM', () => {
    expect(() => validConfig({ nics: [rawNic({ mac: '01:00:5e:00:00:01' })] })).toThrow(/invalid value/);
    expect(validConfig({ nics: [rawNic({ mac: '00:1a:2b:3c:4d:5e' })] }).nics[0]!.mac).toBe('00:1a:2b:3c:4d:5e');
    expect(() => validConfig({ nics: [rawNic(), rawNic({ id: 'net1' })] })).toThrow('two adapters have the same MAC address');
  });

  it('allows up to 8 adapters', () => {
    const nics = Array.from({ length: 9 }, (_, i) => rawNic({ id: `net${i}`, mac: `52:54:00:00:00:0${i}` }));
    expect(validConfig({ nics: nics.slice(0, 8) }).nics).toHaveLength(8);
    expect(() => validConfig({ nics })).toThrow('nics: may have at most 8 entries');
  });
});

describe('resources (optional, backward compatible)', () => {
  it('parses a config without resources unchanged', () => {
    const cfg = parseVmConfig(rawConfig());
    expect(cfg.resources).toBeUndefined();
  });

  it('accepts every setting and sorts the pin list', () => {
    const cfg = parseVmConfig(rawConfig({ cpus: 4, memoryMiB: 1024, resources: { sockets: 2, cores: 2, threads: 1, cpuShares: 500, cpuLimitPct: 50, pinCpus: [1, 0], balloon: true, memoryMaxMiB: 1536, memMerge: false } }));
    expect(cfg.resources).toEqual({ sockets: 2, cores: 2, threads: 1, cpuShares: 500, cpuLimitPct: 50, pinCpus: [0, 1], balloon: true, memoryMaxMiB: 1536, memMerge: false });
  });

  it('rejects what cannot work, naming the field', () => {
    expect(() => parseVmConfig(rawConfig({ cpus: 2, resources: { sockets: 2, cores: 2 } }))).toThrow(/resources: sockets × cores × threads is 4, but the VM has 2 CPUs/);
    expect(() => parseVmConfig(rawConfig({ resources: { cpuLimitPct: 0 } }))).toThrow(/resources.cpuLimitPct: must be between 1 and 100/);
    expect(() => parseVmConfig(rawConfig({ resources: { pinCpus: [0, 0] } }))).toThrow(/lists a CPU twice/);
    expect(() => parseVmConfig(rawConfig({ resources: { pinCpus: [] } }))).toThrow(/at least one host CPU/);
    expect(() => parseVmConfig(rawConfig({ memoryMiB: 1024, resources: { memoryMaxMiB: 512 } }))).toThrow(/must be at least the VM's memory/);
    expect(() => parseVmConfig(rawConfig({ resources: { cpuShare: 5 } }))).toThrow(/unknown key 'cpuShare'/);
  });
});

describe('clipboard setting', () => {
  it('is on unless turned off, and only "off" is written', () => {
    expect(parseVmConfig(rawConfig()).clipboard).toBeUndefined();
    expect('clipboard' in parseVmConfig({ ...rawConfig(), clipboard: true })).toBe(false);
    expect(parseVmConfig({ ...rawConfig(), clipboard: false }).clipboard).toBe(false);
    expect(configError({ ...rawConfig(), clipboard: 'yes' }).message).toMatch(/clipboard/);
  });
});
