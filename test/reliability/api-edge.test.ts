/**
 * Every API argument is validated at the edge: every method of the contract, called with
 * random parameters (fast-check) against a real core, either answers or refuses with a
 * NestboxError whose code says what was wrong — never INTERNAL (an exception that escaped
 * validation), never a crash of the core. A decoy file stands in for what a hostile caller
 * would aim at and must survive. Each call draws its fields from the method's own schema, and
 * sometimes adds one the method does not know (misspelt, a prototype name, another method's):
 * that call must be refused with INVALID_ARGUMENT naming the field, whatever else it carries.
 * Also: garbage on the unix socket never brings the core down.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NestboxError } from '../../src/core/api/errors';
import { PARAM_SCHEMAS } from '../../src/core/api/schemas';
import type { RpcClient } from '../../src/core/api/rpc';
import { DataLayout } from '../../src/core/store/paths';
import { connectUnix } from '../../src/core/server/socket';
import { RpcClient as Client } from '../../src/core/api/rpc';
import type { HostedCore } from '../../src/core/server/host';
import { cleanupHome, openCore, ROOT, tempHome, testIso } from '../integration/helpers';

/** Method names, read from the contract itself so a new method is fuzzed without asking. */
function contractMethods(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'src/core/api/contract.ts'), 'utf8');
  const body = text.slice(text.indexOf('export interface ApiMethods {'));
  return [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}'([a-zA-Z]+\.[a-zA-Z]+)':/gm)].map((m) => m[1]!);
}

/** Methods that wait by design (for a guest, a job): fuzzed with a short timeout elsewhere or not at all. */
const WAITING = new Set(['vms.shutdown', 'jobs.wait']);

describe('every API method validates its arguments at the edge', () => {
  let home: string;
  let sandbox: string;
  let decoy: string;
  let hosted: HostedCore;
  let client: RpcClient;

  beforeAll(async () => {
    home = tempHome();
    sandbox = fs.mkdtempSync(path.join(home, 'sandbox-'));
    decoy = path.join(sandbox, 'decoy.txt');
    fs.writeFileSync(decoy, 'keep me\n');
    ({ hosted, client } = await openCore(home));
    await client.call('vms.create', { name: 'edge', osType: 'linux-other', memoryMiB: 128, cpus: 1, diskSize: '32M', nic: 'none', iso: testIso() });
  });
  afterAll(async () => {
    await hosted.close();
    await cleanupHome(home);
  });

  it('answers or refuses with a clear code, for every method and any parameters', async () => {
    const methods = contractMethods().filter((m) => !WAITING.has(m));
    expect(methods.length).toBeGreaterThan(40);
    const text = fc.oneof(
      fc.constantFrom('edge', '', ' ', 'x'.repeat(5000), '../../etc/passwd', '/dev/zero', '\0', 'edge\0', 'nb-0000', '*', '%', '0', '-1', 'NaN', 'null'),
      fc.constant(''),
      fc.string({ maxLength: 40 }),
    );
    const value = fc.oneof(
      text,
      fc.constant(decoy),
      fc.constant(sandbox),
      fc.integer(),
      fc.double(),
      fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 ** 60, -0),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.oneof(text, fc.integer()), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('name', 'memoryMiB', 'cpus', 'iso', 'resources', 'nics'), fc.oneof(text, fc.integer(), fc.constant(null)), { maxKeys: 3 }),
    );
    const keys = [
      'ref', 'name', 'id', 'path', 'file', 'source', 'target', 'format', 'size', 'changes', 'snapshot', 'stream', 'channel', 'data',
      'rule', 'nic', 'index', 'connected', 'hostPort', 'key', 'value', 'query', 'since', 'targetMiB', 'deleteFile', 'keepFiles',
      'memoryMiB', 'cpus', 'iso', 'disk', 'linked', 'bus', 'readOnly', 'keys', 'limit', 'maxBytes', 'branch', 'spec',
    ];
    /** Fields no method knows: misspellings and names an object has from its prototype. */
    const strangers = ['keep_files', 'Ref', 'REF', 'ref ', 'refs', 'memory', 'constructor', 'toString', '__proto__', 'hasOwnProperty', 'zz'];
    let misspelt = 0;
    const unexpected: string[] = [];
    const codes = new Map<string, number>();
    for (const method of methods) {
      const known = Object.keys(PARAM_SCHEMAS[method as keyof typeof PARAM_SCHEMAS].shape);
      // Another method's fields are unknown here too.
      const unknown = [...strangers, ...keys.filter((k) => !known.includes(k))];
      const fields = known.length ? fc.dictionary(fc.constantFrom(...known), value, { maxKeys: 5 }) : fc.constant({});
      await fc.assert(
        fc.asyncProperty(fields, fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.tuple(fc.constantFrom(...unknown), value), weight: 1 }), async (base, extra) => {
          // The VM the rest of this test checks stays (deleting it is a valid call, not a finding).
          fc.pre(!(method === 'vms.delete' && (base as { ref?: unknown }).ref === 'edge'));
          // A computed key makes '__proto__' an own field, as JSON.parse does when a client sends it.
          const params = extra ? { [extra[0]]: extra[1], ...base } : base;
          try {
            await client.call(method as never, params as never);
            codes.set('ok', (codes.get('ok') ?? 0) + 1);
            if (extra) unexpected.push(`${method}(${JSON.stringify(params).slice(0, 200)}): accepted the unknown field '${extra[0]}'`);
          } catch (err) {
            const code = String((err as { code?: string }).code);
            codes.set(code, (codes.get(code) ?? 0) + 1);
            if (!(err instanceof NestboxError) || err.code === 'INTERNAL') {
              unexpected.push(`${method}(${JSON.stringify(params).slice(0, 200)}): ${(err as Error).constructor.name} ${String((err as { code?: string }).code)} ${(err as Error).message}`);
            } else if (extra) {
              misspelt++;
              if (err.code !== 'INVALID_ARGUMENT' || !err.message.startsWith(`${method}: unknown field '${extra[0]}'`)) {
                unexpected.push(`${method}(${JSON.stringify(params).slice(0, 200)}): the unknown field '${extra[0]}' got ${err.code} ${err.message}`);
              }
            }
          }
          // The decoy is what a hostile caller aims at: no call may change or remove it.
          const left = fs.existsSync(decoy) ? fs.readFileSync(decoy, 'utf8') : null;
          if (left !== 'keep me\n') {
            unexpected.push(`${method}(${JSON.stringify(params).slice(0, 200)}): ${left === null ? 'removed' : 'changed'} the decoy file`);
            fs.writeFileSync(decoy, 'keep me\n');
          }
        }),
        { numRuns: Number(process.env['NESTBOX_FUZZ_RUNS'] ?? 40) },
      );
      // Anything a call started (a VM, a stream) is stopped so the next method starts clean.
      for (const vm of await client.call('vms.list', {})) {
        if (['running', 'paused'].includes(vm.state)) await client.call('vms.powerOff', { ref: vm.uuid }).catch(() => undefined);
      }
    }
    // The calls really reached the methods: most are refused, some answer.
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(methods.length * 10);
    expect(codes.get('INVALID_ARGUMENT') ?? 0).toBeGreaterThan(0);
    expect(codes.get('ok') ?? 0).toBeGreaterThan(0);
    expect(misspelt).toBeGreaterThan(methods.length);
    console.log(`API fuzz: ${JSON.stringify(Object.fromEntries(codes))}, ${misspelt} calls with an unknown field`);
    expect(unexpected.slice(0, 20), unexpected.slice(0, 20).join('\n')).toEqual([]);
    // Found by this fuzz once: a NaN limit reached SQLite ("datatype mismatch", INTERNAL).
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      await expect(client.call('events.recent', { limit: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(client.call('console.serialLog', { ref: 'edge', maxBytes: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect((await client.call('events.recent', { limit: 2.7 })).length).toBeLessThanOrEqual(2);
    expect(fs.readFileSync(decoy, 'utf8')).toBe('keep me\n');
    // The core still serves.
    expect((await client.call('vms.info', { ref: 'edge' })).name).toBe('edge');
  });

  it('survives garbage on its unix socket and keeps serving other clients', async () => {
    const sock = new DataLayout(home).coreSocket;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u).toString('latin1')), fc.json()), { maxLength: 5 }), async (lines) => {
        await new Promise<void>((resolve) => {
          const c = net.createConnection(sock, () => {
            c.end(lines.join('\n') + '\n');
          });
          c.on('data', () => undefined);
          c.on('error', () => resolve());
          c.on('close', () => resolve());
          setTimeout(() => {
            c.destroy();
            resolve();
          }, 500);
        });
      }),
      { numRuns: 60 },
    );
    const other = new Client(await connectUnix(sock));
    try {
      expect((await other.call('vms.list', {})).map((v) => v.name)).toContain('edge');
    } finally {
      other.close();
    }
  });
});
