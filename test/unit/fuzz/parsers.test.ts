/**
 * Property tests (fast-check) of everything that reads untrusted bytes: the image header
 * inspector, the tar reader, the XML reader and OVF parser, the manifest parser. The
 * property is the same everywhere: any input either parses or is refused with a
 * NestboxError — never another exception, never a hang, never a result that lies outside
 * the input. Seeds are real images made by qemu-img, then mutated.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../../src/core/api/errors';
import { inspectImage } from '../../../src/core/storage/inspect';
import { generateOvf, parseManifest, parseOvf } from '../../../src/core/storage/ovf';
import { readTarEntries, tarHeader, tarPadding } from '../../../src/core/storage/tar';
import { parseXml } from '../../../src/core/storage/xml';

const RUNS = Number(process.env['NESTBOX_FUZZ_RUNS'] ?? 300);

function refusedOrOk(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof NestboxError)) throw new Error(`threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
}

/** A byte buffer with a few random bytes overwritten and maybe truncated. */
const mutation = (seedLen: number) =>
  fc.record({
    flips: fc.array(fc.record({ at: fc.nat({ max: Math.max(0, seedLen - 1) }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 16 }),
    cut: fc.option(fc.nat({ max: seedLen }), { nil: undefined }),
  });

function mutate(seed: Buffer, m: { flips: { at: number; byte: number }[]; cut: number | undefined }): Buffer {
  const b = Buffer.from(seed);
  for (const f of m.flips) b[f.at] = f.byte;
  return m.cut === undefined ? b : b.subarray(0, m.cut);
}

let dir: string;
const seeds = new Map<string, Buffer>();

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-fuzz-'));
  // Small real images of every format the inspector knows: their first 64 KiB are the seeds.
  for (const [fmt, opts] of [
    ['qcow2', []],
    ['vdi', []],
    ['vmdk', []],
    ['vmdk', ['-o', 'subformat=streamOptimized']],
    ['vpc', []],
    ['vhdx', []],
  ] as const) {
    const f = path.join(dir, `seed-${fmt}-${opts.length}.img`);
    execFileSync('qemu-img', ['create', '-q', '-f', fmt, ...opts, f, '16M']);
    const fd = fs.openSync(f, 'r');
    const head = Buffer.alloc(Math.min(fs.fstatSync(fd).size, 64 * 1024));
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    seeds.set(`${fmt}${opts.length ? '-stream' : ''}`, head);
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// The property runs below do hundreds of file writes and parses each; on a loaded two-core
// machine that can pass vitest's 5 s default. The 60 s bound is a hang guard, not a
// performance claim.
const FUZZ_TIMEOUT = 60_000;

describe('image header inspector', () => {
  it('refuses or accepts every mutation of real image headers, with sizes inside what it read', { timeout: FUZZ_TIMEOUT }, () => {
    for (const [name, seed] of seeds) {
      const file = path.join(dir, `m-${name}`);
      fc.assert(
        fc.property(mutation(seed.length), (m) => {
          const bytes = mutate(seed, m);
          fs.writeFileSync(file, bytes);
          refusedOrOk(() => {
            const facts = inspectImage(file);
            expect(facts.size).toBe(bytes.length);
            if (facts.virtualSize !== null) expect(Number.isFinite(facts.virtualSize) && facts.virtualSize >= 0).toBe(true);
          });
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('never fails on arbitrary bytes', { timeout: FUZZ_TIMEOUT }, () => {
    const file = path.join(dir, 'random');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 8192 }), (bytes) => {
        fs.writeFileSync(file, bytes);
        refusedOrOk(() => inspectImage(file));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('tar reader', () => {
  function tarOf(entries: { name: string; data: Buffer }[]): Buffer {
    const parts: Buffer[] = [];
    for (const e of entries) parts.push(tarHeader(e.name, e.data.length), e.data, tarPadding(e.data.length));
    parts.push(Buffer.alloc(1024));
    return Buffer.concat(parts);
  }

  it('ends, and yields only entries inside the file, for any mutation of a valid archive', () => {
    const seed = tarOf([
      { name: 'box.ovf', data: Buffer.from('<Envelope/>') },
      { name: 'box-disk1.vmdk', data: Buffer.alloc(3000, 7) },
      { name: 'box.mf', data: Buffer.from('SHA256(box.ovf)= 00\n') },
    ]);
    const file = path.join(dir, 'm.tar');
    fc.assert(
      fc.property(mutation(seed.length), (m) => {
        const bytes = mutate(seed, m);
        fs.writeFileSync(file, bytes);
        const fd = fs.openSync(file, 'r');
        try {
          refusedOrOk(() => {
            let n = 0;
            for (const e of readTarEntries(fd, bytes.length)) {
              expect(++n).toBeLessThanOrEqual(bytes.length / 512);
              expect(Number.isSafeInteger(e.size) && e.size >= 0, `size ${e.size}`).toBe(true);
              expect(e.dataOffset + e.size).toBeLessThanOrEqual(bytes.length);
            }
          });
        } finally {
          fs.closeSync(fd);
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('refuses PAX sizes that are not plain non-negative numbers', () => {
    for (const bad of ['-1024', 'NaN', '1e400', '0x10', '99999999999999999999']) {
      const rec = (k: string, v: string) => {
        const body = ` ${k}=${v}\n`;
        let len = body.length + 2;
        len = `${len}${body}`.length;
        return `${len}${body}`;
      };
      const pax = Buffer.from(rec('size', bad));
      const header = tarHeader('PaxHeader', pax.length);
      header[156] = 'x'.charCodeAt(0);
      // Recompute the checksum for the changed type flag.
      header.fill(0x20, 148, 156);
      let sum = 0;
      for (const x of header) sum += x;
      header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
      const body = tarOf([{ name: 'a.ovf', data: Buffer.from('x') }]);
      const bytes = Buffer.concat([header, pax, tarPadding(pax.length), body]);
      const file = path.join(dir, 'pax.tar');
      fs.writeFileSync(file, bytes);
      const fd = fs.openSync(file, 'r');
      try {
        expect(() => [...readTarEntries(fd, bytes.length)], bad).toThrow(NestboxError);
      } finally {
        fs.closeSync(fd);
      }
    }
  });
});

describe('XML reader and OVF parser', () => {
  const ovf = generateOvf({
    name: 'fuzzed',
    description: 'a <fuzzed> & "quoted" VM',
    osType: 'linux-debian',
    osFamily: 'linux',
    memoryMiB: 512,
    cpus: 2,
    firmware: 'bios',
    machine: 'pc',
    disks: [{ href: 'fuzzed-disk1.vmdk', size: 12345, capacity: 16 * 2 ** 20, bus: 'virtio', uuid: '11111111-2222-4333-8444-555555555555' }],
    cdroms: 1,
    nics: [{ model: 'e1000e', mac: '52:54:00:12:34:56', mode: 'nat', forwards: [{ name: 'ssh', protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestAddress: '', guestPort: 22 }] }],
    bootOrder: ['disk', 'cdrom'],
    uuid: 'bbbbbbbb-cccc-4ddd-8eee-ffffffffffff',
  });

  it('parses the OVF Nestbox writes', () => {
    expect(parseOvf(ovf).disks.length).toBe(1);
  });

  it('refuses or parses any mutation of a real descriptor, and any string', () => {
    const seed = Buffer.from(ovf, 'utf8');
    fc.assert(
      fc.property(mutation(seed.length), (m) => refusedOrOk(() => parseOvf(mutate(seed, m).toString('utf8')))),
      { numRuns: RUNS * 3 },
    );
    fc.assert(fc.property(fc.string({ maxLength: 2000 }), (s) => refusedOrOk(() => parseOvf(s))), { numRuns: RUNS });
  });

  it('never accepts a DOCTYPE, wherever it is and however it is spelled', () => {
    fc.assert(
      fc.property(fc.constantFrom('<!DOCTYPE', '<!doctype', '<!DocType'), fc.nat({ max: 40 }), fc.string({ maxLength: 60 }), (dt, at, rest) => {
        const xml = `<?xml version="1.0"?>${' '.repeat(at % 3)}${dt} x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${rest}<Envelope>&e;</Envelope>`;
        expect(() => parseXml(xml)).toThrow(NestboxError);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses or parses any manifest text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 500 }), (s) => refusedOrOk(() => parseManifest(s))), { numRuns: RUNS });
  });
});
