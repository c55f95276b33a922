/**
 * The API's parameter schemas: unknown fields refused with the field named, wrong types with
 * the field and the expected type, null as "absent" for optional fields, and nothing more
 * lenient than the contract.
 */
import { describe, expect, it } from 'vitest';
import type { MethodName } from '../../../../src/core/api/contract';
import { NestboxError } from '../../../../src/core/api/errors';
import { PARAM_SCHEMAS, parseParams } from '../../../../src/core/api/schemas';

function refusal(method: MethodName, params: unknown): NestboxError {
  try {
    parseParams(method, params);
  } catch (err) {
    if (err instanceof NestboxError) return err;
    throw err;
  }
  throw new Error(`${method} accepted ${JSON.stringify(params)}`);
}

describe('API parameter schemas', () => {
  it('refuse an unknown field, naming the method, the field and the known ones', () => {
    const e = refusal('vms.delete', { ref: 'a', keep_files: true });
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe("vms.delete: unknown field 'keep_files' (known: ref, keepFiles)");
  });

  it('refuse an unknown field of a method without params', () => {
    // vms.list gained `host` and `wait` (libvirt hosts); media.list still has no params.
    expect(refusal('media.list', { all: true }).message).toBe("media.list: unknown field 'all' (known: none)");
    expect(refusal('vms.list', { all: true }).message).toBe("vms.list: unknown field 'all' (known: host, wait)");
  });

  it('refuse an unknown field inside a nested object, with its path', () => {
    expect(refusal('vms.modify', { ref: 'a', changes: { memory: 4 } }).message).toMatch(/^vms\.modify: unknown field 'changes\.memory' \(known: name, memoryMiB, /);
    expect(refusal('network.setNic', { ref: 'a', nic: '1', changes: { colour: 'blue' } }).message).toMatch(/^network\.setNic: unknown field 'changes\.colour' \(known: mode, model, mac,/);
    expect(refusal('network.addForward', { ref: 'a', rule: { hostPort: 1, guestPort: 2, hostIp: 'x' } }).message).toMatch(/unknown field 'rule\.hostIp'/);
  });

  it('name the outermost unknown field first, and an unknown field before a missing one', () => {
    expect(refusal('network.addNic', { ref: 'a', spec: { cpus: 1 }, data: 1 }).message).toMatch(/^network\.addNic: unknown field 'data' \(known: ref, spec\)$/);
    expect(refusal('vms.info', { Ref: 'a' }).message).toBe("vms.info: unknown field 'Ref' (known: ref)");
  });

  it('name the field and the expected type when a value has the wrong type', () => {
    expect(refusal('vms.info', {}).message).toBe("vms.info: 'ref' must be a non-empty string");
    expect(refusal('vms.info', { ref: '' }).message).toBe("vms.info: 'ref' must be a non-empty string");
    expect(refusal('vms.delete', { ref: 'a', keepFiles: 'yes' }).message).toBe("vms.delete: 'keepFiles' must be true or false");
    expect(refusal('vms.create', { name: 'a', memoryMiB: '512' }).message).toBe("vms.create: 'memoryMiB' must be a finite number");
    expect(refusal('vms.modify', { ref: 'a', changes: { iso: 3 } }).message).toBe("vms.modify: 'changes.iso' must be a string or null");
    expect(refusal('vms.modify', { ref: 'a', changes: { resources: [] } }).message).toBe("vms.modify: 'changes.resources' must be an object");
    expect(refusal('vms.modify', { ref: 'a' }).message).toBe("vms.modify: 'changes' must be an object");
  });

  it('refuse params that are not an object', () => {
    for (const p of ['x', 3, [], true]) expect(refusal('vms.list', p).message).toBe('vms.list: parameters must be an object');
  });

  it('refuse non-finite numbers (they reached SQLite once)', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      expect(refusal('events.recent', { limit: bad }).message).toBe("events.recent: 'limit' must be a finite number");
      expect(refusal('console.serialLog', { ref: 'a', maxBytes: bad }).code).toBe('INVALID_ARGUMENT');
    }
  });

  it('check sendKeys key names: 1 to 8 QEMU key names', () => {
    expect(parseParams('vms.sendKeys', { ref: 'a', keys: ['ctrl', 'alt', 'delete'] })).toEqual({ ref: 'a', keys: ['ctrl', 'alt', 'delete'] });
    for (const keys of [[], ['ctrl; rm'], Array(9).fill('a'), 'ctrl', [1], ['x'.repeat(21)]]) {
      expect(refusal('vms.sendKeys', { ref: 'a', keys }).message).toBe("vms.sendKeys: 'keys' must be 1 to 8 QEMU key names such as ctrl, alt, delete, f1");
    }
  });

  it('take absent params as {} and null optional fields as absent', () => {
    expect(parseParams('vms.list', undefined)).toEqual({});
    expect(parseParams('vms.list', null)).toEqual({});
    expect(parseParams('vms.shutdown', { ref: 'a', timeoutS: null }).timeoutS).toBeUndefined();
    expect(parseParams('vms.delete', { ref: 'a' }).keepFiles).toBeUndefined();
    // Absent fields stay absent (services list and spread what they are given).
    expect(parseParams('network.setNic', { ref: 'a', nic: '1', changes: { mac: 'auto', mode: null } })).toStrictEqual({ ref: 'a', nic: '1', changes: { mac: 'auto' } });
    expect(Object.keys(parseParams('vms.create', { name: 'x', cpus: null }))).toEqual(['name']);
  });

  it('keep null as a value where the contract gives it a meaning', () => {
    expect(parseParams('settings.set', { key: 'accel', value: null }).value).toBeNull();
    expect(parseParams('vms.modify', { ref: 'a', changes: { iso: null } }).changes.iso).toBeNull();
    expect(refusal('settings.set', { key: 'accel' }).message).toBe("settings.set: 'value' must be a non-empty string");
  });

  it('has a schema for every method, each refusing an unknown field', () => {
    const methods = Object.keys(PARAM_SCHEMAS) as MethodName[];
    expect(methods.length).toBeGreaterThan(60);
    for (const m of methods) {
      expect(refusal(m, { zz_unknown: 1 }).message, m).toMatch(new RegExp(`^${m.replace('.', '\\.')}: unknown field 'zz_unknown'`));
    }
  });
});
