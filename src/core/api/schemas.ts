/**
 * The parameter schemas of every API method (zod), checked at the edge before any service
 * sees a call: every field of its type, and every field known — a misspelt option is refused
 * rather than ignored (`vms.delete {keep_files: true}` must not delete the VM's files).
 *
 * Values with a closed set of choices (firmware, bus, NIC mode, ...) are checked here as
 * strings; the services check them against their domain lists and own those messages.
 * `ApiMethods` (contract.ts) stays the readable, documented statement of the params; the
 * compile-time check at the bottom keeps the two in agreement field by field.
 *
 * No Node imports: this module runs in the renderer too.
 */
import { z } from 'zod';
import type { MethodName, Params } from './contract';
import { NestboxError } from './errors';

// ---- Field schemas. Each carries the words that follow the field's name in an error. ----

const text = () => z.string({ error: 'must be a string' });
/** A reference (VM name or uuid, path, id): present and not empty. */
const nonEmpty = () => z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' });
const num = () => z.number({ error: 'must be a finite number' });
const bool = () => z.boolean({ error: 'must be true or false' });
const record = () => z.record(z.string(), z.unknown(), { error: 'must be an object' });

/**
 * An optional field. `null` counts as absent, as it always has at this edge (JSON has no
 * `undefined`, and some clients send null for "not given").
 */
function opt<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((v) => v ?? undefined);
}

const ref = nonEmpty;

/** QEMU key names (qcodes) a client may press: letters, digits and `_`, 1 to 8 of them. */
const KEYS_MESSAGE = 'must be 1 to 8 QEMU key names such as ctrl, alt, delete, f1';
const keyNames = z
  .array(z.string({ error: KEYS_MESSAGE }).regex(/^[a-z0-9_]{1,20}$/, { error: KEYS_MESSAGE }), { error: KEYS_MESSAGE })
  .min(1, { error: KEYS_MESSAGE })
  .max(8, { error: KEYS_MESSAGE })
  .readonly();

const createVmSpec = z.strictObject({
  name: text(),
  osType: opt(text()),
  memoryMiB: opt(num()),
  cpus: opt(num()),
  firmware: opt(text()),
  diskSize: opt(text()),
  disk: opt(text()),
  noDisk: opt(bool()),
  diskBus: opt(text()),
  iso: opt(text()),
  nic: opt(text()),
  nicNetwork: opt(text()),
  nicBridge: opt(text()),
  display: opt(text()),
  description: opt(text()),
  group: opt(text()),
  autoSnapshots: opt(num()),
  secureBoot: opt(bool()),
  tpm: opt(bool()),
  clipboard: opt(bool()),
  shares: opt(z.array(z.strictObject({ path: nonEmpty(), tag: opt(nonEmpty()), readOnly: opt(bool()) }), { error: 'must be a list of shares' }).max(16, { error: 'may have at most 16 shares' }).readonly()),
  unattended: opt(
    z.strictObject({
      user: text(),
      password: text(),
      hostname: opt(text()),
      timezone: opt(text()),
      locale: opt(text()),
      productKey: opt(text()),
      sshKeys: opt(z.array(text(), { error: 'must be a list of strings' }).max(16, { error: 'may have at most 16 keys' }).readonly()),
    }),
  ),
  host: opt(nonEmpty()),
  pool: opt(nonEmpty()),
  isoVolume: opt(nonEmpty()),
});

const modifyVmSpec = z.strictObject({
  name: opt(text()),
  memoryMiB: opt(num()),
  cpus: opt(num()),
  /** null ejects the ISO: here null is a value, not "absent". */
  iso: z.string({ error: 'must be a string or null' }).nullable().optional(),
  description: opt(text()),
  group: opt(text()),
  firmware: opt(text()),
  display: opt(text()),
  /** Resource names and values are checked by the VM service (it names the setting). */
  resources: opt(record()),
  autoSnapshots: opt(num()),
  guestAgent: opt(bool()),
  clipboard: opt(bool()),
  secureBoot: opt(bool()),
  tpm: opt(bool()),
  resetTpm: opt(bool()),
});

const portForwardSpec = z.strictObject({
  name: opt(text()),
  protocol: opt(text()),
  hostAddress: opt(text()),
  hostPort: num(),
  guestAddress: opt(text()),
  guestPort: num(),
});

const nicSpec = z.strictObject({
  mode: opt(text()),
  model: opt(text()),
  mac: opt(text()),
  natNetwork: opt(text()),
  restrict: opt(bool()),
  mirrorCounters: opt(bool()),
  bridge: opt(text()),
  bridgeVia: opt(text()),
  tap: opt(text()),
  network: opt(text()),
});

/** A libvirt host (names and URIs are checked by the host rules in domain/hosts.ts, which name the problem). */
const hostFields = {
  name: nonEmpty(),
  uri: nonEmpty(),
  /** null clears it (the host URI is used): here null is a value, not "absent". */
  peerUri: z.string({ error: 'must be a string or null' }).nullable().optional(),
  migrateAddr: z.string({ error: 'must be a string or null' }).nullable().optional(),
};

/** A whole number in [1, max], with the words the old hand-written check used. */
const wholeIn = (max: number) => {
  const msg = `must be a whole number from 1 to ${max}`;
  return z.number({ error: msg }).int({ error: msg }).min(1, { error: msg }).max(max, { error: msg });
};

const migrateSpec = z.strictObject({
  ref: ref(),
  to: nonEmpty(),
  live: opt(bool()),
  copyStorage: opt(bool()),
  unsafe: opt(bool()),
  maxDowntimeMs: opt(wholeIn(600_000)),
  bandwidthMiBps: opt(wholeIn(1_000_000)),
});

const moveSpec = z.strictObject({
  ref: ref(),
  to: nonEmpty(),
  pool: opt(nonEmpty()),
  name: opt(nonEmpty()),
  deleteSource: opt(bool()),
});

const none = z.strictObject({});
const byRef = z.strictObject({ ref: ref() });
const importSpec = z.strictObject({
  file: nonEmpty(),
  name: opt(text()),
  mode: opt(text()),
  osType: opt(text()),
  memoryMiB: opt(num()),
  cpus: opt(num()),
  firmware: opt(text()),
  diskBus: opt(text()),
  diskFolder: opt(nonEmpty()),
});
const byPath = z.strictObject({ path: nonEmpty() });
const logQuery = z.strictObject({ ref: ref(), query: opt(text()), maxBytes: opt(num()) });

/** Method name → its params schema. */
export const PARAM_SCHEMAS = {
  'host.info': none,
  'vms.list': z.strictObject({ host: opt(nonEmpty()), wait: opt(bool()) }),
  'hosts.list': z.strictObject({ wait: opt(bool()) }),
  'hosts.add': z.strictObject(hostFields),
  'hosts.update': z.strictObject({ name: nonEmpty(), changes: z.strictObject(hostFields).partial() }),
  'hosts.remove': z.strictObject({ name: nonEmpty() }),
  'hosts.info': z.strictObject({ name: nonEmpty(), wait: opt(bool()) }),
  'hosts.pools': z.strictObject({ name: nonEmpty() }),
  'hosts.uploadIso': z.strictObject({ name: nonEmpty(), pool: nonEmpty(), file: nonEmpty(), volume: opt(nonEmpty()) }),
  'vms.migrate': migrateSpec,
  'vms.move': moveSpec,
  'vms.info': byRef,
  'vms.create': createVmSpec,
  'vms.modify': z.strictObject({ ref: ref(), changes: modifyVmSpec }),
  'vms.start': byRef,
  'vms.pause': byRef,
  'vms.resume': byRef,
  'vms.reset': byRef,
  'vms.shutdown': z.strictObject({ ref: ref(), timeoutS: opt(num()) }),
  'vms.powerOff': byRef,
  'vms.saveState': byRef,
  'vms.discardState': byRef,
  'vms.delete': z.strictObject({ ref: ref(), keepFiles: opt(bool()) }),
  'vms.screenshot': byRef,
  'media.list': none,
  'media.registry': none,
  'media.info': byPath,
  'media.delete': z.strictObject({ path: nonEmpty(), deleteFile: opt(bool()) }),
  'media.discardUpload': byPath,
  'media.discardUploadSet': byPath,
  'media.create': z.strictObject({ path: nonEmpty(), format: nonEmpty(), size: nonEmpty(), preallocation: opt(text()) }),
  'media.convert': z.strictObject({ source: nonEmpty(), target: nonEmpty(), format: nonEmpty(), subformat: opt(text()) }),
  'media.resize': z.strictObject({ path: nonEmpty(), size: nonEmpty(), shrink: opt(bool()) }),
  'media.compact': byPath,
  'media.check': z.strictObject({ path: nonEmpty(), repair: opt(bool()) }),
  // The plan shows what the import would create from the same request.
  'vms.import': importSpec,
  'vms.importPlan': importSpec,
  'vms.export': z.strictObject({ ref: ref(), file: nonEmpty() }),
  'vms.attachDisk': z.strictObject({ ref: ref(), path: nonEmpty(), bus: opt(text()), readOnly: opt(bool()) }),
  'vms.detachDisk': z.strictObject({ ref: ref(), disk: nonEmpty() }),
  'jobs.list': none,
  'jobs.cancel': z.strictObject({ id: nonEmpty() }),
  'jobs.wait': z.strictObject({ id: nonEmpty() }),
  'network.addForward': z.strictObject({ ref: ref(), nic: opt(text()), rule: portForwardSpec }),
  'network.removeForward': z.strictObject({ ref: ref(), nic: opt(text()), name: nonEmpty() }),
  'network.setLink': z.strictObject({ ref: ref(), nic: opt(text()), connected: bool() }),
  'network.host': none,
  'network.setNic': z.strictObject({ ref: ref(), nic: nonEmpty(), changes: nicSpec }),
  'network.addNic': z.strictObject({ ref: ref(), spec: opt(nicSpec) }),
  'network.removeNic': z.strictObject({ ref: ref(), nic: nonEmpty() }),
  'network.newMac': none,
  'shares.list': byRef,
  'shares.add': z.strictObject({ ref: ref(), path: nonEmpty(), tag: opt(nonEmpty()), readOnly: opt(bool()) }),
  'shares.remove': z.strictObject({ ref: ref(), tag: nonEmpty() }),
  'snapshots.list': byRef,
  'snapshots.take': z.strictObject({ ref: ref(), name: nonEmpty(), description: opt(text()) }),
  'snapshots.restore': z.strictObject({ ref: ref(), id: nonEmpty() }),
  'snapshots.delete': z.strictObject({ ref: ref(), id: nonEmpty() }),
  'snapshots.deleteBranch': z.strictObject({ ref: ref(), id: nonEmpty() }),
  'snapshots.previewDelete': z.strictObject({ ref: ref(), id: nonEmpty(), branch: opt(bool()) }),
  'vms.clone': z.strictObject({ ref: ref(), name: nonEmpty(), snapshot: opt(text()), linked: opt(bool()), keepMacs: opt(bool()) }),
  'vms.convertDisk': z.strictObject({ ref: ref(), disk: opt(text()) }),
  'vms.cancel': byRef,
  'snapshots.update': z.strictObject({ ref: ref(), id: nonEmpty(), name: opt(text()), description: opt(text()) }),
  'snapshots.thumbnail': z.strictObject({ id: nonEmpty() }),
  'settings.get': z.strictObject({ key: nonEmpty() }),
  /** null resets the setting: here null is a value, not "absent". */
  'settings.set': z.strictObject({ key: nonEmpty(), value: nonEmpty().nullable() }),
  'events.recent': z.strictObject({ ref: opt(text()), limit: opt(num()) }),
  'console.open': z.strictObject({ ref: ref(), channel: nonEmpty(), stream: nonEmpty() }),
  'console.write': z.strictObject({ stream: nonEmpty(), data: nonEmpty() }),
  'console.close': z.strictObject({ stream: nonEmpty() }),
  'console.serialLog': logQuery,
  'stats.subscribe': z.strictObject({ ref: opt(text()) }),
  'stats.unsubscribe': z.strictObject({ ref: opt(text()) }),
  'stats.current': none,
  'stats.recent': byRef,
  'stats.history': z.strictObject({ ref: ref(), since: opt(num()) }),
  'vms.balloon': z.strictObject({ ref: ref(), targetMiB: num() }),
  'vms.qemuLog': logQuery,
  'vms.sendKeys': z.strictObject({ ref: ref(), keys: keyNames }),
} as const satisfies { readonly [M in MethodName]: z.ZodType };

export type ParamSchemas = typeof PARAM_SCHEMAS;

// ---- Errors: one INVALID_ARGUMENT that names the method and the field. ----

/** The object schema reached by following `path` from `schema` (through optional/nullable/transform wrappers). */
function objectAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | null {
  let s: unknown = schema;
  const unwrap = () => {
    for (;;) {
      if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
      else if (s instanceof z.ZodPipe) s = s.in;
      else return;
    }
  };
  unwrap();
  for (const key of path) {
    if (!(s instanceof z.ZodObject)) return null;
    s = (s.shape as Record<string, unknown>)[String(key)];
    unwrap();
  }
  return s instanceof z.ZodObject ? s : null;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

/** The first problem zod found, in words: "<method>: unknown field 'x' (known: a, b)" or "<method>: 'x' must be ...". */
export function describeIssue(method: string, schema: z.ZodType, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(objectAt(schema, issue.path)?.shape ?? {});
    const field = fieldName([...issue.path, issue.keys[0] ?? '']);
    return `${method}: unknown field '${field}' (known: ${known.length ? known.join(', ') : 'none'})`;
  }
  if (issue.path.length === 0) return `${method}: parameters ${issue.message === 'must be an object' ? 'must be an object' : issue.message}`;
  // A `keys` array reports its element's path; the message speaks of the whole field.
  const top = issue.path.findIndex((k) => typeof k === 'number');
  const path = top > 0 ? issue.path.slice(0, top) : issue.path;
  return `${method}: '${fieldName(path)}' ${issue.message}`;
}

/**
 * Checks a call's params against its method's schema. Absent params are `{}`; what fails is
 * INVALID_ARGUMENT naming the method and the field, never a TypeError from inside a service.
 */
export function parseParams<M extends MethodName>(method: M, params: unknown): Params<M> {
  const schema: z.ZodType = PARAM_SCHEMAS[method];
  const r = schema.safeParse(params ?? {}, { error: (iss) => (iss.code === 'invalid_type' && iss.expected === 'object' ? 'must be an object' : undefined) });
  if (!r.success) {
    // A misspelt field is named first (it is usually why a "required" one looks missing),
    // the outermost first when there are several.
    const unknown = r.error.issues.filter((i) => i.code === 'unrecognized_keys').sort((a, b) => a.path.length - b.path.length);
    const issue = unknown[0] ?? r.error.issues[0]!;
    throw new NestboxError('INVALID_ARGUMENT', describeIssue(method, schema, issue));
  }
  // The schema agrees with the contract (checked below at compile time); services narrow the
  // closed-choice strings it lets through and own those messages.
  return withoutAbsent(r.data) as Params<M>;
}

/**
 * Drops the fields an optional schema turned into `undefined` (absent, or null meaning
 * absent), so a service sees the fields a client gave and no others: code that lists or
 * spreads a spec (`{ ...nic, ...changes }`, "changed mode, mac") must not see the rest.
 */
function withoutAbsent(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = withoutAbsent(x);
  return out;
}

// ---- Compile-time agreement between the schemas and the contract. ----

type Plain<T> = T extends readonly unknown[] ? never : T extends object ? T : never;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** Contract types with a string index (`Record<string, never>`: no params) have no named keys. */
type NamedKeys<T> = string extends keyof T ? never : keyof T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/**
 * The contract's params `C` and what a schema accepts, `S`, agree when they name the same
 * fields, require the same ones, and every nested object agrees too (an opaque record in the
 * schema stands for an object the service checks itself).
 */
type Agrees<C, S> =
  Same<NamedKeys<C>, NamedKeys<S>> extends true
    ? Same<RequiredKeys<C> & NamedKeys<C>, RequiredKeys<S> & NamedKeys<S>> extends true
      ? { [K in NamedKeys<C> & NamedKeys<S>]: Nested<NonNullable<C[K]>, NonNullable<S[K]>> }[NamedKeys<C> & NamedKeys<S>] extends true
        ? true
        : false
      : false
    : false;
type Nested<C, S> = [Plain<S>] extends [never]
  ? true
  : string extends keyof S
    ? true
    : [Plain<C>] extends [never]
      ? false
      : Agrees<C, S>;

/** Every method whose schema disagrees with the contract; must stay `never`. */
type Disagreeing = { [M in MethodName]: Agrees<Params<M>, z.input<ParamSchemas[M]>> extends true ? never : M }[MethodName];
/** Every contract value also passes its schema (types, not only names). */
type Unaccepted = { [M in MethodName]: Params<M> extends z.input<ParamSchemas[M]> ? never : M }[MethodName];
const schemasAgree: [Disagreeing, Unaccepted] extends [never, never] ? true : { readonly disagree: Disagreeing; readonly unaccepted: Unaccepted } = true;
void schemasAgree;
