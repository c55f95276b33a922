/**
 * Shared folders in the config and the checks of a folder to share: missing, a file, a
 * symlink (resolved and said), and at start a folder replaced by a symlink (refused).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseVmConfig } from '../../../../src/core/domain/config';
import { checkShareAtStart, checkShareFolder, refuseWhileShared, shareTransport } from '../../../../src/core/services/shares';
import { validConfig } from '../../helpers/config';

describe('shares in the VM config', () => {
  it('is absent when there are none, so old configs read and write the same', () => {
    expect('shares' in validConfig()).toBe(false);
    expect('shares' in parseVmConfig({ ...validConfig(), shares: [] })).toBe(false);
  });

  it('keeps tag, real path and read-only; refuses bad tags, relative paths and a tag twice', () => {
    const s = { tag: 'work', path: '/home/ada/work', readOnly: true };
    expect(parseVmConfig({ ...validConfig(), shares: [s] }).shares).toEqual([s]);
    expect(() => parseVmConfig({ ...validConfig(), shares: [{ ...s, tag: 'a b' }] })).toThrow(/shares\[0\]\.tag: has an invalid value/);
    expect(() => parseVmConfig({ ...validConfig(), shares: [{ ...s, tag: 'x'.repeat(32) }] })).toThrow(/shares\[0\]\.tag/);
    expect(() => parseVmConfig({ ...validConfig(), shares: [{ ...s, path: 'work' }] })).toThrow(/shares\[0\]\.path: must be an absolute path/);
    expect(() => parseVmConfig({ ...validConfig(), shares: [s, { ...s, path: '/tmp' }] })).toThrow(/shares: two shared folders have the same tag/);
    expect(() => parseVmConfig({ ...validConfig(), shares: [{ ...s, writable: true }] })).toThrow(/unknown key 'writable'/);
  });
});

describe('checkShareFolder / checkShareAtStart', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-sharecheck-'));
    fs.mkdirSync(path.join(dir, 'real'));
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    fs.symlinkSync(path.join(dir, 'file'), path.join(dir, 'link-to-file'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('accepts a folder as its real path', () => {
    const real = fs.realpathSync(path.join(dir, 'real'));
    expect(checkShareFolder(real)).toEqual({ path: real });
  });

  it('resolves a symlink and says what is stored', () => {
    const r = checkShareFolder(path.join(dir, 'link'));
    expect(r.path).toBe(fs.realpathSync(path.join(dir, 'real')));
    expect(r.note).toMatch(/through a symlink\): the share is stored as /);
  });

  it('refuses a missing path, a file (also through a link), a relative path and /', () => {
    expect(() => checkShareFolder(path.join(dir, 'nope'))).toThrow(/does not exist/);
    expect(() => checkShareFolder(path.join(dir, 'file'))).toThrow(/only a folder can be shared/);
    expect(() => checkShareFolder(path.join(dir, 'link-to-file'))).toThrow(/only a folder can be shared/);
    expect(() => checkShareFolder('real')).toThrow(/absolute path/);
    expect(() => checkShareFolder('/')).toThrow(/root folder cannot be shared/);
  });

  it('at start, refuses a stored folder that is gone, a file now, or a symlink now', () => {
    const real = fs.realpathSync(path.join(dir, 'real'));
    expect(() => checkShareAtStart('vm', { tag: 't', path: real, readOnly: false })).not.toThrow();
    expect(() => checkShareAtStart('vm', { tag: 't', path: path.join(real, 'gone'), readOnly: false })).toThrow(/is missing/);
    expect(() => checkShareAtStart('vm', { tag: 't', path: fs.realpathSync(path.join(dir, 'file')), readOnly: false })).toThrow(/no longer a folder/);
    expect(() => checkShareAtStart('vm', { tag: 't', path: path.join(fs.realpathSync(dir), 'link'), readOnly: false })).toThrow(/replaced by a symlink to .*real; Nestbox shares only the folder that was added/);
  });
});

describe('shareTransport', () => {
  it('uses virtiofs only with virtiofsd and a core running as root, else 9p', () => {
    expect(shareTransport({ virtiofsd: '/usr/lib/qemu/virtiofsd' }, true)).toBe('virtiofs');
    expect(shareTransport({ virtiofsd: '/usr/lib/qemu/virtiofsd' }, false)).toBe('9p');
    expect(shareTransport({ virtiofsd: null }, true)).toBe('9p');
  });
});

describe('refuseWhileShared', () => {
  const row = { uuid: 'u1', name: 'web', config: { ...validConfig(), shares: [{ tag: 'work', path: '/srv/work', readOnly: false }] } };

  it('says what could not be saved, or loaded, naming the share and the way out', () => {
    const reg = { running: new Map() };
    expect(() => refuseWhileShared(reg, row, 'save the state of')).toThrow(
      /cannot save the state of 'web' while it runs with shared folder 'work': QEMU cannot save the memory .*nestbox share 'web' remove work.*Nothing was saved$/,
    );
    expect(() => refuseWhileShared(reg, row, "restore snapshot 's1' with its memory into", 'load')).toThrow(
      /cannot restore snapshot 's1' with its memory into 'web' .*QEMU cannot load saved memory into a VM with a shared folder attached.*Nothing was changed$/,
    );
  });

  it('lets a VM without shares through', () => {
    expect(() => refuseWhileShared({ running: new Map() }, { ...row, config: validConfig() }, 'save the state of')).not.toThrow();
  });
});
