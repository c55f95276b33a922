import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../../../src/core/server/lock';
import type { Lock } from '../../../../src/core/server/lock';
import { NestboxError } from '../../../../src/core/api/errors';

let dir: string;
let lockFile: string;
const children: ChildProcess[] = [];
const locks: Lock[] = [];

function take(file = lockFile): Lock {
  const r = acquireLock(file);
  if ('heldBy' in r) throw new Error(`expected to take the lock, but pid ${r.heldBy} holds it`);
  locks.push(r);
  return r;
}

function spawnAndWaitForSpawn(cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  return pid;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-lock-'));
  lockFile = path.join(dir, 'core.lock');
});

afterEach(() => {
  for (const l of locks.splice(0)) l.release();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('acquireLock', () => {
  it('takes a free lock and writes our pid to a private file', () => {
    take();
    expect(fs.readFileSync(lockFile, 'utf8')).toBe(`${process.pid}\n`);
    expect(fs.statSync(lockFile).mode & 0o777).toBe(0o600);
  });

  it('reports our own pid as the holder when this process already holds it', () => {
    take();
    expect(acquireLock(lockFile)).toEqual({ heldBy: process.pid });
    // ...and the file is untouched.
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
  });

  it('takes over a lock whose pid is dead', async () => {
    const pid = await deadPid();
    fs.writeFileSync(lockFile, `${pid}\n`);
    take();
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
  });

  it('respects a lock held by a live Node process', async () => {
    const child = await spawnAndWaitForSpawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    fs.writeFileSync(lockFile, `${child.pid}\n`);
    expect(acquireLock(lockFile)).toEqual({ heldBy: child.pid });
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(child.pid));
  });

  // Documented in lock.ts: a pid that is alive but "no longer a Node/Electron process" is a
  // reused pid, so the lock is stale. On Linux the command line is read from /proc.
  it.runIf(process.platform === 'linux')('takes over a lock whose pid is now a live non-Node process', async () => {
    const child = await spawnAndWaitForSpawn('sleep', ['5']);
    fs.writeFileSync(lockFile, `${child.pid}\n`);
    take();
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
    expect(child.exitCode).toBeNull(); // the other process was left alone
  });

  it.each(['not a pid', '-5', '0'])('treats a lock file containing %j as stale', (content) => {
    fs.writeFileSync(lockFile, content);
    take();
    expect(fs.readFileSync(lockFile, 'utf8').trim()).toBe(String(process.pid));
  });

  it('throws IO_ERROR when the lock file cannot be created', () => {
    const file = path.join(dir, 'missing-dir', 'core.lock');
    try {
      acquireLock(file);
    } catch (err) {
      expect(err).toBeInstanceOf(NestboxError);
      expect((err as NestboxError).code).toBe('IO_ERROR');
      expect((err as NestboxError).message).toContain(file);
      return;
    }
    throw new Error('acquireLock succeeded without a directory');
  });
});

describe('Lock.release', () => {
  it('removes the file, so the lock can be taken again', () => {
    const lock = take();
    lock.release();
    expect(fs.existsSync(lockFile)).toBe(false);
    take();
    expect(fs.existsSync(lockFile)).toBe(true);
  });

  it('is idempotent', () => {
    const lock = take();
    lock.release();
    lock.release();
    expect(fs.existsSync(lockFile)).toBe(false);
  });

  it('does not remove a lock file that another core has taken over since', () => {
    const lock = take();
    fs.writeFileSync(lockFile, '999999\n');
    lock.release();
    expect(fs.readFileSync(lockFile, 'utf8')).toBe('999999\n');
  });

  it('does not fail when the file is already gone', () => {
    const lock = take();
    fs.rmSync(lockFile);
    expect(() => lock.release()).not.toThrow();
  });
});
