import { describe, expect, it } from 'vitest';
import { MENU_CHANNEL, PORT_CHANNEL, validateChooseFileParams } from '../../../src/main/ipc';

const iso = { name: 'ISO images', extensions: ['iso'] };
const disks = { name: 'Disk images', extensions: ['qcow2', 'img', 'raw', 'vdi', 'vmdk', 'vhd', 'vhdx'] };

describe('validateChooseFileParams', () => {
  it('accepts the requests the renderer makes', () => {
    expect(validateChooseFileParams({ title: 'Choose an ISO image', filters: [iso] })).toEqual({ title: 'Choose an ISO image', filters: [iso] });
    expect(validateChooseFileParams({ title: 'Choose a disk image', filters: [disks, { name: 'All files', extensions: ['*'] }] })).toEqual({
      title: 'Choose a disk image',
      filters: [disks, { name: 'All files', extensions: ['*'] }],
    });
  });

  it('accepts no filters and an empty title', () => {
    expect(validateChooseFileParams({ title: '', filters: [] })).toEqual({ title: '', filters: [] });
  });

  it('returns only the known fields (extra keys never reach the dialog)', () => {
    const out = validateChooseFileParams({ title: 'x', filters: [{ ...iso, evil: true }], properties: ['openDirectory', 'multiSelections'], defaultPath: '/etc' });
    expect(out).toEqual({ title: 'x', filters: [iso] });
    expect(Object.keys(out)).toEqual(['title', 'filters']);
    expect(Object.keys(out.filters[0]!)).toEqual(['name', 'extensions']);
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'open'],
    ['a number', 1],
    ['an array', [{ title: 'x', filters: [] }]],
    ['an empty object', {}],
  ])('rejects %s', (_what, v) => {
    expect(() => validateChooseFileParams(v)).toThrow(/invalid/);
  });

  it('rejects a missing or non-string title', () => {
    expect(() => validateChooseFileParams({ filters: [] })).toThrow(/invalid/);
    expect(() => validateChooseFileParams({ title: 42, filters: [] })).toThrow(/invalid/);
  });

  it('rejects a title longer than 200 characters', () => {
    expect(() => validateChooseFileParams({ title: 'x'.repeat(200), filters: [] })).not.toThrow();
    expect(() => validateChooseFileParams({ title: 'x'.repeat(201), filters: [] })).toThrow(/invalid/);
  });

  it('rejects filters that are not an array', () => {
    expect(() => validateChooseFileParams({ title: 'x', filters: iso })).toThrow(/invalid/);
    expect(() => validateChooseFileParams({ title: 'x' })).toThrow(/invalid/);
  });

  it('rejects more than 10 filters', () => {
    expect(() => validateChooseFileParams({ title: 'x', filters: Array(10).fill(iso) })).not.toThrow();
    expect(() => validateChooseFileParams({ title: 'x', filters: Array(11).fill(iso) })).toThrow(/invalid/);
  });

  it.each([
    ['a path', '../x'],
    ['a shell command', 'sh;rm'],
    ['a leading dot', '.iso'],
    ['a slash', 'a/b'],
    ['a backslash', 'a\\b'],
    ['a space', 'tar gz'],
    ['an empty string', ''],
    ['too long', 'abcdefghijk'],
    ['a newline', 'iso\n'],
    ['non-ASCII', 'ísó'],
  ])('rejects an extension with %s', (_what, ext) => {
    expect(() => validateChooseFileParams({ title: 'x', filters: [{ name: 'n', extensions: [ext] }] })).toThrow(/invalid file filter/);
  });

  it('rejects non-string extensions and malformed filters', () => {
    for (const f of [{ name: 'n', extensions: [1] }, { name: 'n', extensions: 'iso' }, { name: 'n' }, { extensions: ['iso'] }, { name: 3, extensions: ['iso'] }, null, 'iso', 7]) {
      expect(() => validateChooseFileParams({ title: 'x', filters: [f] }), JSON.stringify(f)).toThrow(/invalid file filter/);
    }
  });

  it('bounds the size of one filter', () => {
    expect(() => validateChooseFileParams({ title: 'x', filters: [{ name: 'n'.repeat(101), extensions: ['iso'] }] })).toThrow(/invalid file filter/);
    expect(() => validateChooseFileParams({ title: 'x', filters: [{ name: 'n', extensions: Array(33).fill('iso') }] })).toThrow(/invalid file filter/);
    expect(() => validateChooseFileParams({ title: 'x', filters: [{ name: 'n'.repeat(100), extensions: Array(32).fill('iso') }] })).not.toThrow();
  });
});

describe('channels', () => {
  it('are namespaced and distinct', () => {
    expect(PORT_CHANNEL).toMatch(/^nestbox:/);
    expect(MENU_CHANNEL).toMatch(/^nestbox:/);
    expect(PORT_CHANNEL).not.toBe(MENU_CHANNEL);
  });
});
