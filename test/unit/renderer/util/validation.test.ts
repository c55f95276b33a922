/** The form checks the dialogs and the wizard share: what they accept and what they refuse, in words. */
import { describe, expect, it } from 'vitest';
import { cpusProblem, groupProblem, isAbsolutePath, MAX_NAME_LENGTH, memoryProblem, parseWhole, pathProblem, vmNameProblem } from '../../../../src/renderer/src/util/validation';

describe('vmNameProblem', () => {
  it('accepts ordinary names', () => {
    for (const n of ['web', 'Debian 12', 'win11 (test)', 'a.b_c-d+e', '9lives', 'x'.repeat(MAX_NAME_LENGTH)]) expect(vmNameProblem(n, []), n).toBeNull();
  });

  it.each([
    ['empty', '', /Enter a name/],
    ['blank', '   ', /Enter a name/],
    ['too long', 'x'.repeat(MAX_NAME_LENGTH + 1), /too long/],
    ['a leading space', ' web', /start with a letter or a digit/],
    ['a leading dot', '.hidden', /start with a letter or a digit/],
    ['a slash', 'a/b', /Use only/],
    ['a shell character', 'a;rm', /Use only/],
    ['non-ASCII', 'café', /Use only/],
    ['a trailing dot', 'web.', /not end with a dot or a space/],
    ['a trailing space', 'web ', /not end with a dot or a space/],
    ['a UUID', '0b3c9f2e-5d4a-4e8b-9c1d-2f3a4b5c6d7e', /UUID/],
  ])('refuses %s', (_what, name, msg) => {
    expect(vmNameProblem(name, [])).toMatch(msg);
  });

  it('refuses a name in use, whatever its case, and names it', () => {
    expect(vmNameProblem('WEB', ['web', 'db'])).toBe("A virtual machine named 'WEB' already exists.");
  });

  it("lets a VM keep its own name when renamed (also in another case), but not take another's", () => {
    expect(vmNameProblem('Web', ['web', 'db'], 'web')).toBeNull();
    expect(vmNameProblem('db', ['web', 'db'], 'web')).toMatch(/already exists/);
  });
});

describe('groupProblem', () => {
  it('accepts no group and ordinary groups', () => {
    expect(groupProblem('')).toBeNull();
    expect(groupProblem('Lab machines')).toBeNull();
    expect(groupProblem('g'.repeat(128))).toBeNull();
  });
  it('refuses slashes and overlong groups', () => {
    expect(groupProblem('a/b')).toMatch(/must not contain/);
    expect(groupProblem('a\\b')).toMatch(/must not contain/);
    expect(groupProblem('g'.repeat(129))).toMatch(/too long/);
  });
});

describe('paths', () => {
  it('knows absolute POSIX and Windows paths', () => {
    for (const p of ['/', '/home/me/x.iso', 'C:\\images\\x.iso', 'd:/x.iso', '\\\\server\\share']) expect(isAbsolutePath(p), p).toBe(true);
    for (const p of ['', 'x.iso', './x.iso', '../x', '~/x.iso', 'C:x.iso']) expect(isAbsolutePath(p), p).toBe(false);
  });
  it('says what is missing or relative, naming the thing', () => {
    expect(pathProblem('', 'ISO image')).toBe('Enter the path of the ISO image on the host.');
    expect(pathProblem('  ', 'disk')).toMatch(/Enter the path of the disk/);
    expect(pathProblem('x.iso', 'ISO image')).toMatch(/must be absolute/);
    expect(pathProblem(' /isos/x.iso ', 'ISO image')).toBeNull();
  });
});

describe('parseWhole', () => {
  it('reads whole numbers, spaces around allowed', () => {
    expect(parseWhole('0')).toBe(0);
    expect(parseWhole(' 2048 ')).toBe(2048);
  });
  it('is NaN for anything else', () => {
    for (const t of ['', ' ', '1.5', '-1', '1e3', '0x10', '12abc', 'ten']) expect(parseWhole(t), t).toBeNaN();
  });
});

describe('memoryProblem and cpusProblem', () => {
  it('accept what the host can give', () => {
    expect(memoryProblem(16, 4096)).toBeNull();
    expect(memoryProblem(4096, 4096)).toBeNull();
    expect(cpusProblem(1, 2)).toBeNull();
    expect(cpusProblem(2, 2)).toBeNull();
  });
  it('refuse too little, too much, and non-numbers', () => {
    expect(memoryProblem(15, 4096)).toMatch(/At least 16 MiB/);
    expect(memoryProblem(4097, 4096)).toMatch(/only 4,096 MiB/);
    expect(memoryProblem(Number.NaN, 4096)).toMatch(/whole number/);
    expect(memoryProblem(512.5, 4096)).toMatch(/whole number/);
    expect(cpusProblem(0, 2)).toMatch(/At least one CPU/);
    expect(cpusProblem(Number.NaN, 2)).toMatch(/At least one CPU/);
    expect(cpusProblem(3, 2)).toBe('The host has only 2 CPUs.');
  });
});
