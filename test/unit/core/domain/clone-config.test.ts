/**
 * The config fields linked clones and automatic snapshots added: optional, so version-1
 * configs written before them still parse; validated like everything else.
 */
import { describe, expect, it } from 'vitest';
import { parseVmConfig } from '../../../../src/core/domain/config';
import { buildQemuArgv } from '../../../../src/core/qemu/argv';
import { rawConfig, rawDisk, validConfig } from '../../helpers/config';

describe('linked-clone disks and automatic snapshots in the config', () => {
  it('parses configs without the new fields as before', () => {
    const c = validConfig();
    expect(c.autoSnapshot).toBeUndefined();
    expect(c.disks[0]!.backing).toBeUndefined();
  });

  it('accepts a qcow2 disk with an absolute qcow2 backing image and a retention count', () => {
    const c = parseVmConfig(rawConfig({ disks: [rawDisk({ backing: { file: '/data/machines/p/bases/1234abcd-disk0.qcow2', format: 'qcow2' } })], autoSnapshot: { keep: 3 } }));
    expect(c.disks[0]!.backing).toEqual({ file: '/data/machines/p/bases/1234abcd-disk0.qcow2', format: 'qcow2' });
    expect(c.autoSnapshot).toEqual({ keep: 3 });
    expect(parseVmConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  it('refuses relative, non-qcow2 or unknown backing fields and out-of-range retention', () => {
    const bad = (over: Record<string, unknown>) => () => parseVmConfig(rawConfig(over));
    expect(bad({ disks: [rawDisk({ backing: { file: 'base.qcow2', format: 'qcow2' } })] })).toThrow(/absolute path/);
    expect(bad({ disks: [rawDisk({ backing: { file: '/b.raw', format: 'raw' } })] })).toThrow(/must be one of qcow2/);
    expect(bad({ disks: [rawDisk({ format: 'raw', backing: { file: '/b.qcow2', format: 'qcow2' } })] })).toThrow(/only a qcow2 disk/);
    expect(bad({ disks: [rawDisk({ backing: { file: '/b.qcow2', format: 'qcow2', extra: 1 } })] })).toThrow(/unknown key 'extra'/);
    expect(bad({ autoSnapshot: { keep: 101 } })).toThrow(/between 0 and 100/);
    expect(bad({ autoSnapshot: { keep: 2, every: 'start' } })).toThrow(/unknown key 'every'/);
  });

  it('names the backing image and its format on the command line instead of letting QEMU read the header', () => {
    const c = parseVmConfig(rawConfig({ disks: [rawDisk({ backing: { file: '/d/bases/b,1.qcow2', format: 'qcow2' } })] }));
    const argv = buildQemuArgv(
      c,
      { binary: 'qemu', accel: 'kvm', ovmfCode: null },
      { vmDir: '/d/vm', runDir: '/run/x', serialLog: '/d/vm/logs/serial.log', efiVars: '/d/vm/efivars.qcow2' },
      { incoming: false },
    );
    const blockdevs = argv.filter((_, i) => argv[i - 1] === '-blockdev');
    expect(blockdevs.slice(0, 3)).toEqual([
      'driver=file,filename=/d/bases/b,,1.qcow2,node-name=disk0-base-file,read-only=on',
      'driver=qcow2,file=disk0-base-file,node-name=disk0-base,read-only=on',
      'driver=file,filename=/d/vm/disk0.qcow2,node-name=disk0-file,read-only=off',
    ]);
    expect(blockdevs[3]).toBe('driver=qcow2,file=disk0-file,backing=disk0-base,node-name=disk0,read-only=off');
  });
});
