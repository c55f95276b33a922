/**
 * The layering rules in eslint.config.js, exercised through ESLint's Node API: each case lints
 * a small snippet as if it lived at a given path and checks the import rule fires (or not).
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULE = '@typescript-eslint/no-restricted-imports';

let eslint: ESLint;

beforeAll(async () => {
  eslint = new ESLint({ cwd: ROOT });
  // Loading the config and the TypeScript parser takes seconds on a busy machine: here, not in the first test's 5 s.
  await eslint.lintText('export const x = 1;\n', { filePath: 'src/core/domain/x.ts' });
}, 60_000);

interface Outcome {
  /** Messages from the import-restriction rule. */
  readonly restricted: readonly string[];
  /** Every other error (parse errors included), so a "fine" case is really clean. */
  readonly otherErrors: readonly string[];
}

async function lint(filePath: string, code: string): Promise<Outcome> {
  const [result] = await eslint.lintText(code, { filePath });
  if (!result) throw new Error('ESLint returned no result');
  // A file no config applies to comes back with a single "ignored" warning: that must not pass as clean.
  const ignored = result.messages.some((m) => m.ruleId === null && /ignored/i.test(m.message));
  if (ignored) throw new Error(`${filePath} is ignored by the ESLint config`);
  return {
    restricted: result.messages.filter((m) => m.ruleId === RULE && m.severity === 2).map((m) => m.message),
    otherErrors: result.messages.filter((m) => m.ruleId !== RULE && m.severity === 2).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`),
  };
}

async function expectRefused(filePath: string, code: string, message: RegExp): Promise<void> {
  const o = await lint(filePath, code);
  expect(o.restricted, `${filePath}:\n${code}`).toHaveLength(1);
  expect(o.restricted[0]).toMatch(message);
}

async function expectAllowed(filePath: string, code: string): Promise<void> {
  const o = await lint(filePath, code);
  expect(o.restricted, `${filePath}:\n${code}`).toEqual([]);
  expect(o.otherErrors).toEqual([]);
}

describe('layering lint: domain', () => {
  const file = 'src/core/domain/x.ts';

  it('refuses node:fs', async () => {
    await expectRefused(file, "import fs from 'node:fs';\nexport const x = fs.existsSync('/');\n", /domain is pure/);
  });

  it('refuses importing storage', async () => {
    await expectRefused(file, "import { QemuImg } from '../storage/qemuimg';\nexport const x = QemuImg;\n", /domain imports nothing of ours/);
  });

  it('refuses importing the api, even as a type', async () => {
    await expectRefused(file, "import type { VmInfo } from '../api/contract';\nexport type X = VmInfo;\n", /domain imports nothing of ours/);
  });

  it('allows importing a sibling domain module', async () => {
    await expectAllowed(file, "import type { VmConfig } from './config';\nimport { VM_STATES } from './lifecycle';\nexport type X = VmConfig;\nexport const y = VM_STATES;\n");
  });
});

describe('layering lint: api', () => {
  const file = 'src/core/api/x.ts';

  it('refuses a value import from domain', async () => {
    await expectRefused(file, "import { parseVmConfig } from '../domain/config';\nexport const p = parseVmConfig;\n", /domain \*types\* only/);
  });

  it('allows a type import from domain', async () => {
    await expectAllowed(file, "import type { VmConfig } from '../domain/config';\nexport type X = VmConfig;\n");
  });

  it('refuses Node imports', async () => {
    await expectRefused(file, "import net from 'node:net';\nexport const s = net.createServer;\n", /no Node imports/);
  });

  it('refuses importing services, even as a type', async () => {
    await expectRefused(file, "import type { Core } from '../services/core';\nexport type C = Core;\n", /imports nothing of ours/);
  });

  it('refuses electron', async () => {
    await expectRefused(file, "import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n", /api is shared by every host/);
  });
});

describe('layering lint: core never imports electron', () => {
  it.each(['src/core/services/x.ts', 'src/core/qemu/x.ts', 'src/core/server/x.ts', 'src/core/store/x.ts'])('%s refuses electron', async (file) => {
    await expectRefused(file, "import { app } from 'electron';\nexport const a = app;\n", /never imports electron/);
  });

  it('services may import lower layers', async () => {
    await expectAllowed(
      'src/core/services/x.ts',
      "import { inspectImage } from '../storage/inspect';\nimport { buildQemuArgv } from '../qemu/argv';\nexport const a = [inspectImage, buildQemuArgv];\n",
    );
  });

  it('services may not import their hosts', async () => {
    await expectRefused('src/core/services/x.ts', "import { listenUnix } from '../server/socket';\nexport const l = listenUnix;\n", /services do not import their hosts/);
  });

  it('lower layers may not import services', async () => {
    await expectRefused('src/core/qemu/x.ts', "import { VmService } from '../services/vms';\nexport const v = VmService;\n", /Lower layers do not import services/);
  });
});

describe('layering lint: renderer', () => {
  const file = 'src/renderer/x.tsx';

  it('refuses node:fs', async () => {
    await expectRefused(file, "import fs from 'node:fs';\nexport const x = fs.readFileSync;\n", /never touches Node/);
  });

  it('refuses the core services', async () => {
    await expectRefused(file, "import { Core } from '../core/services/core';\nexport const c = Core;\n", /only through the api/);
  });

  it('refuses the store, even deeper in the tree', async () => {
    await expectRefused('src/renderer/views/vm/Details.tsx', "import { VmRepository } from '../../../core/store/db';\nexport const r = VmRepository;\n", /only through the api/);
  });

  it('refuses electron', async () => {
    await expectRefused(file, "import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n", /use the preload API/);
  });

  it('allows types from the api contract', async () => {
    await expectAllowed(
      file,
      "import type { VmSummary } from '../core/api/contract';\nexport function Row(props: { vm: VmSummary }) {\n  return <div>{props.vm.name}</div>;\n}\n",
    );
  });
});

describe('layering lint: Electron main', () => {
  it('allows the api (its RPC client and transport are how main reaches the core)', async () => {
    await expectAllowed('src/main/x.ts', "import { portTransport, RpcClient } from '../core/api/rpc';\nimport type { VmInfo } from '../core/api/contract';\nexport const a = [portTransport, RpcClient];\nexport type V = VmInfo;\n");
  });

  it.each([
    ['../core/services/core', 'Core'],
    ['../core/store/db', 'VmRepository'],
    ['../core/domain/config', 'parseVmConfig'],
    ['../core/server/socket', 'connectUnix'],
  ])('refuses %s', async (from, name) => {
    await expectRefused('src/main/x.ts', `import { ${name} } from '${from}';\nexport const x = ${name};\n`, /only through core\/api/);
  });
});

describe('layering lint: CLI', () => {
  it('allows the api, the domain and what it needs to reach a core', async () => {
    await expectAllowed(
      'src/cli/x.ts',
      [
        "import { RpcClient } from '../core/api/rpc';",
        "import { formatBytes } from '../core/domain/units';",
        "import { connectUnix } from '../core/server/socket';",
        "import { connectOrHost } from '../core/server/host';",
        "import { startWebServer } from '../core/server/web';",
        "import { DataLayout } from '../core/store/paths';",
        'export const x = [RpcClient, formatBytes, connectUnix, connectOrHost, startWebServer, DataLayout];',
        '',
      ].join('\n'),
    );
  });

  it.each([
    ['../core/services/core', 'Core'],
    ['../core/store/db', 'openDatabase'],
    ['../core/qemu/host', 'probeHost'],
    ['../core/storage/inspect', 'inspectImage'],
    ['../core/network/bridges', 'listBridges'],
    ['../core/server/lock', 'acquireLock'],
  ])('refuses %s', async (from, name) => {
    await expectRefused('src/cli/x.ts', `import { ${name} } from '${from}';\nexport const x = ${name};\n`, /The CLI is an api client/);
  });
});

describe('layering lint: order among the lower layers', () => {
  it.each([
    ['src/core/store/x.ts', '../qemu/argv', 'opt', /store is the bottom layer/],
    ['src/core/store/x.ts', '../network/switch', 'x', /store is the bottom layer/],
    ['src/core/network/x.ts', '../store/paths', 'DataLayout', /network stands on domain alone/],
    ['src/core/network/x.ts', '../qemu/qmp', 'x', /network stands on domain alone/],
    ['src/core/qemu/x.ts', '../store/db', 'openDatabase', /qemu may use store\/paths/],
    ['src/core/qemu/x.ts', '../storage/inspect', 'inspectImage', /qemu may use store\/paths/],
    ['src/core/storage/x.ts', '../qemu/qmp', 'x', /storage may use qemu\/argv/],
    ['src/core/storage/x.ts', '../store/paths', 'DataLayout', /storage may use qemu\/argv/],
  ])('%s refuses %s', async (file, from, name, message) => {
    await expectRefused(file, `import { ${name} } from '${from}';\nexport const x = ${name};\n`, message);
  });

  it.each([
    ['src/core/qemu/x.ts', '../store/paths', 'ensurePrivateDir'],
    ['src/core/storage/x.ts', '../qemu/argv', 'opt'],
    ['src/core/store/x.ts', '../domain/config', 'parseVmConfig'],
    ['src/core/network/x.ts', '../domain/config', 'parseVmConfig'],
  ])('%s may import %s (a written crossing, or the layers below)', async (file, from, name) => {
    await expectAllowed(file, `import { ${name} } from '${from}';\nexport const x = ${name};\n`);
  });

  it('every lower layer still refuses services', async () => {
    for (const layer of ['store', 'network', 'qemu', 'storage']) {
      await expectRefused(`src/core/${layer}/x.ts`, "import { VmService } from '../services/vms';\nexport const v = VmService;\n", /Lower layers do not import services/);
    }
  });
});
