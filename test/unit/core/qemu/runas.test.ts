import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { CREATE_USER_COMMAND, qemuUser, accessProblem } from '../../../../src/core/qemu/runas';

let dir: string;
let passwd: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-runas-'));
  passwd = path.join(dir, 'passwd');
  fs.writeFileSync(passwd, ['root:x:0:0:root:/root:/bin/bash', 'nestbox:x:995:995::/nonexistent:/usr/sbin/nologin', 'qemu:x:64055:64055::/:/bin/false', 'toor:x:0:0::/:/bin/sh', ''].join('\n'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): NestboxError {
  try {
    fn();
  } catch (e) {
    if (e instanceof NestboxError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('qemuUser', () => {
  it('is nobody in particular when Nestbox is not root: QEMU runs as the desktop user', () => {
    expect(qemuUser({}, false, passwd)).toBeNull();
    expect(qemuUser({ NESTBOX_QEMU_USER: 'qemu' }, false, passwd)).toBeNull();
  });

  it('as root, defaults to the nestbox system user, or the one NESTBOX_QEMU_USER names', () => {
    expect(qemuUser({}, true, passwd)).toEqual({ name: 'nestbox', uid: 995, gid: 995 });
    expect(qemuUser({ NESTBOX_QEMU_USER: 'qemu' }, true, passwd)).toEqual({ name: 'qemu', uid: 64055, gid: 64055 });
  });

  it('as root with no such user, refuses with the command that creates it', () => {
    fs.writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\n');
    const err = refusal(() => qemuUser({}, true, passwd));
    expect(err.code).toBe('HOST_UNSUPPORTED');
    expect(err.message).toContain(CREATE_USER_COMMAND);
    expect(err.message).toContain('NESTBOX_QEMU_USER');
    expect(refusal(() => qemuUser({ NESTBOX_QEMU_USER: 'ghost' }, true, passwd)).message).toMatch(/'ghost', which does not exist/);
  });

  it('refuses a user that is root under another name', () => {
    expect(refusal(() => qemuUser({ NESTBOX_QEMU_USER: 'toor' }, true, passwd)).message).toMatch(/which is root/);
    expect(refusal(() => qemuUser({ NESTBOX_QEMU_USER: 'root' }, true, passwd)).message).toMatch(/which is root/);
  });
});

describe('accessProblem', () => {
  const other = { name: 'someone', uid: 54321, gid: 54321 };

  it('follows the permission bits of the file and of every folder above it', () => {
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const f = path.join(sub, 'disk.img');
    fs.writeFileSync(f, 'x');
    fs.chmodSync(f, 0o644);
    expect(accessProblem(other, f, 'r')).toBeNull();
    expect(accessProblem(other, f, 'rw')).toMatch(/not readable and writable.*chmod o\+rw/);
    fs.chmodSync(f, 0o666);
    expect(accessProblem(other, f, 'rw')).toBeNull();
    // A folder above that others cannot traverse hides it.
    fs.chmodSync(sub, 0o700);
    expect(accessProblem(other, f, 'r')).toBe(`the folder ${sub} is closed to it (chmod o+x "${sub}")`);
    fs.chmodSync(sub, 0o711);
    expect(accessProblem(other, f, 'r')).toBeNull();
    expect(accessProblem(other, path.join(sub, 'missing'), 'r')).toMatch(/does not exist/);
  });
});
