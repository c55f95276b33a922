// Lint, and the layering of the core (see README "Architecture"): imports go downward only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The core's folders (src/core/*). */
const CORE_LAYERS = ['api', 'domain', 'engines', 'qemu', 'libvirt', 'storage', 'network', 'store', 'services', 'server'];

const ours = (...dirs) => dirs.map((d) => `**/${d}/**`);
const restrict = (patterns, message, allowTypeImports = false) => ({
  group: patterns,
  message,
  allowTypeImports,
});

/**
 * One lower layer of the core (`src/core/<layer>`): never services, hosts or electron, and of
 * its sibling layers only the modules in `allowed` (each with its reason at the call site).
 */
function lowerLayer(layer, forbidden, allowed, message) {
  return [{
    files: [`src/core/${layer}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The core never imports electron.' }],
        patterns: [
          restrict(['../services/*', '../server/*'], 'Lower layers do not import services or hosts.'),
          restrict([...forbidden.map((l) => `../${l}/*`), ...allowed.map((m) => `!../${m}`)], message),
        ],
      }],
    },
  }];
}

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'node_modules/**', 'test/guest/.build/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  { files: ['*.config.{js,ts}', '*.config.*.ts'], rules: { 'no-restricted-syntax': 'off' } },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'The core never imports electron; it runs headless too.' }] }],
    },
  },
  {
    files: ['src/core/api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'api is shared by every host.' }],
        patterns: [
          restrict(['node:*'], 'api runs in the renderer too: no Node imports.'),
          restrict(ours('qemu', 'storage', 'network', 'store', 'services', 'server').map((p) => p.replace('/**', '')).concat(['../qemu/*', '../storage/*', '../network/*', '../store/*', '../services/*', '../server/*']), 'api imports nothing of ours but domain types.'),
          restrict(['../domain/*'], 'api may import domain *types* only (import type).', true),
        ],
      }],
    },
  },
  {
    files: ['src/core/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          restrict(['node:*'], 'domain is pure: no I/O.'),
          restrict(['../*', '../../*'], 'domain imports nothing of ours.'),
        ],
      }],
    },
  },
  // The core's lower layers, in order: `store` and `network` stand on api/domain alone;
  // `qemu` may also use `store/paths`; `storage` may also use `qemu/argv`. Nothing else
  // crosses between them (services compose them). Each crossing allowed below says why.
  ...lowerLayer('store', ['qemu', 'storage', 'network'], [], 'store is the bottom layer: it imports no other lower layer.'),
  ...lowerLayer('network', ['qemu', 'storage', 'store'], [], 'network stands on domain alone; services give it what it needs from qemu or the store.'),
  // qemu → store/paths: the VM's runtime directory is created 0700 (ensurePrivateDir) by the
  // one function that creates every private directory of the data layout.
  ...lowerLayer('qemu', ['storage', 'network', 'store'], ['store/paths'], 'qemu may use store/paths (private directories) and nothing else of store, storage or network.'),
  // storage → qemu/argv: qemu-img options are escaped (`,` → `,,`) by argv.ts's `opt`, the
  // one place QEMU option escaping lives.
  ...lowerLayer('storage', ['qemu', 'network', 'store'], ['qemu/argv'], 'storage may use qemu/argv (option escaping) and nothing else of qemu, network or store.'),
  {
    files: ['src/core/services/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The core never imports electron.' }],
        patterns: [restrict(['../server/*'], 'services do not import their hosts.')],
      }],
    },
  },
  {
    // Electron main and preload talk to the core only over the RPC protocol of `core/api`
    // (no Node, no services: the core runs in its own utilityProcess). Values are allowed
    // from api because its RPC client and port transport are what main uses to reach it.
    files: ['src/main/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          restrict(CORE_LAYERS.filter((l) => l !== 'api').map((l) => `**/core/${l}/*`), 'src/main reaches the core only through core/api.'),
        ],
      }],
    },
  },
  {
    // The CLI is a client of the api. Beyond api and domain (plain shapes, units, formatting)
    // it uses what a client needs to find or start a core: `server/socket` (connect to the
    // core's unix socket), `server/host` (connect), `server/autostart` (start the background
    // daemon when none runs), `server/daemon` and `server/serve` (the `daemon` and `serve`
    // commands only call into the hosts that live there), `server/web` and `store/paths`
    // (where the data directory and its socket are; `store/runtimebase`, the private runtime
    // folder, also holds the CLI's compile cache). Nothing that
    // does the core's work (services, qemu, storage, network, the database).
    files: ['src/cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The CLI runs without Electron.' }],
        patterns: [
          restrict(
            [
              ...CORE_LAYERS.filter((l) => !['api', 'domain', 'server', 'store'].includes(l)).map((l) => `**/core/${l}/*`),
              '**/core/server/*', '!**/core/server/socket', '!**/core/server/host', '!**/core/server/web',
              '!**/core/server/autostart', '!**/core/server/daemon', '!**/core/server/serve',
              '**/core/store/*', '!**/core/store/paths', '!**/core/store/runtimebase',
            ],
            'The CLI is an api client: core/api, core/domain, and to reach a core only server/{socket,host,autostart,daemon,serve,web} and store/{paths,runtimebase}.',
          ),
        ],
      }],
    },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The renderer never touches Electron or Node; use the preload API.' }],
        patterns: [
          restrict(['node:*'], 'The renderer never touches Node.'),
          restrict(['**/core/qemu/*', '**/core/storage/*', '**/core/network/*', '**/core/store/*', '**/core/services/*', '**/core/server/*'], 'The renderer talks to the core only through the api.'),
        ],
      }],
    },
  },
);
