/**
 * electron-builder.yml, loaded and validated by electron-builder's own code (the same
 * getConfig + validateConfiguration `electron-builder` runs first), without the Electron
 * binary or any packaging.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Configuration } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { DebugLogger } from 'builder-util';
import { minimatch } from 'minimatch';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let config: Configuration;

beforeAll(async () => {
  config = await getConfig(ROOT, path.join(ROOT, 'electron-builder.yml'), null);
});

const asList = <T>(v: T | readonly T[] | null | undefined): T[] => (v == null ? [] : Array.isArray(v) ? [...(v as readonly T[])] : [v as T]);
const targetNames = (t: unknown): string[] => asList(t as unknown).map((x) => (typeof x === 'string' ? x : (x as { target: string }).target));
/** `files` after electron-builder's loader: strings, or `{ filter: [...] }` objects. */
const filePatterns = (files: unknown): string[] =>
  asList(files as unknown).flatMap((f) => (typeof f === 'string' ? [f] : asList((f as { filter?: string | string[] }).filter)));

// electron-builder's validator loads its whole JSON schema (a few seconds on a loaded
// machine); the 60 s bound is a hang guard, not a performance claim.
const SCHEMA_TIMEOUT = 60_000;

describe('electron-builder.yml', () => {
  it('passes electron-builder schema validation', { timeout: SCHEMA_TIMEOUT }, async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('the validator is live: a misspelled key is rejected', { timeout: SCHEMA_TIMEOUT }, async () => {
    const bad = { ...config, linux: { ...config.linux, categroy: 'System' } } as Configuration;
    await expect(validateConfiguration(bad, new DebugLogger(false))).rejects.toThrow(/configuration/i);
  });

  it('identifies the app', () => {
    expect(config.appId).toBe('org.nestbox.app');
    expect(config.productName).toBe('Nestbox');
  });

  it("packages the bundles and the manifest, and package.json's main is among them", () => {
    const patterns = filePatterns(config.files);
    expect(patterns).toEqual(expect.arrayContaining(['out/**', 'package.json']));
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main: string };
    expect(patterns.filter((p) => !p.startsWith('!')).some((p) => minimatch(pkg.main, p))).toBe(true);
    // The preload and the core's entry sit next to main in out/.
    for (const f of ['out/preload/index.cjs', 'out/main/core.js', 'out/renderer/index.html']) {
      expect(patterns.some((p) => !p.startsWith('!') && minimatch(f, p)), f).toBe(true);
    }
  });

  it("unpacks better-sqlite3's native addon from the asar", () => {
    const unpack = asList(config.asarUnpack);
    expect(unpack.length).toBeGreaterThan(0);
    for (const file of ['node_modules/better-sqlite3/build/Release/better_sqlite3.node']) {
      expect(unpack.some((p) => minimatch(file, p)), file).toBe(true);
    }
    expect(unpack.some((p) => minimatch('node_modules/better-sqlite3/lib/index.js', p))).toBe(false);
  });

  it('builds an AppImage and a deb on Linux, in the System/Emulator menu', () => {
    expect(targetNames(config.linux?.target)).toEqual(['AppImage', 'deb']);
    expect(config.linux?.category?.split(';').filter(Boolean)).toEqual(['System', 'Emulator']);
  });

  it('the deb depends on QEMU and on the libraries Electron needs', () => {
    const depends = asList(config.deb?.depends);
    expect(depends).toEqual(
      expect.arrayContaining([
        'qemu-system-x86',
        'qemu-utils',
        'libgtk-3-0',
        'libnss3',
        'libxss1',
        'libxtst6',
        'xdg-utils',
        'libatspi2.0-0',
        'libuuid1',
        'libsecret-1-0',
      ]),
    );
    expect(new Set(depends).size).toBe(depends.length);
  });

  it('builds a dmg on macOS in the developer tools category', () => {
    expect(targetNames(config.mac?.target)).toEqual(['dmg']);
    expect(config.mac?.category).toBe('public.app-category.developer-tools');
  });

  it('builds an NSIS installer on Windows', () => {
    expect(targetNames(config.win?.target)).toEqual(['nsis']);
  });

  it("flips Electron's fuses: no run-as-node, NODE_OPTIONS or inspect flags; app.asar only, integrity-checked", () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
      enableCookieEncryption: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });
});
