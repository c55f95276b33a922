/**
 * The hostile corpus against the header inspector alone: every disk image in it is refused
 * (an error, or problems that make every import path refuse it) before qemu-img ever runs.
 * The integration test (test/integration/storage.test.ts) runs every import path over it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../../../src/core/api/errors';
import { inspectImage } from '../../../../src/core/storage/inspect';
import { makeHostileCorpus, type HostileCase } from '../../../support/hostile-corpus';

let dir: string;
let cases: HostileCase[];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nestbox-hostile-'));
  cases = makeHostileCorpus(dir);
}, 60_000);
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the hostile corpus against the inspector', () => {
  it('refuses every disk image in it, giving the reason, without blocking or leaking a descriptor', () => {
    const fds = fs.readdirSync('/proc/self/fd').length;
    const disks = cases.filter((c) => !c.file.endsWith('.ova'));
    expect(disks.length).toBeGreaterThan(20);
    for (const c of disks) {
      let reason: string;
      try {
        const facts = inspectImage(c.file);
        expect(facts.problems.length, c.name).toBeGreaterThan(0);
        reason = facts.problems.join('; ');
      } catch (err) {
        expect(err, c.name).toBeInstanceOf(NestboxError);
        expect((err as NestboxError).code, c.name).toBe('IMAGE_REJECTED');
        reason = (err as Error).message;
      }
      expect(reason, c.name).toMatch(c.reason);
    }
    expect(fs.readdirSync('/proc/self/fd').length).toBe(fds);
  });
});
