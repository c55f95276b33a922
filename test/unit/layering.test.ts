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

beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

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
