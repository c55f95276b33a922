// Lint, and the layering of the core (see README "Architecture"): imports go downward only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ours = (...dirs) => dirs.map((d) => `**/${d}/**`);
const restrict = (patterns, message, allowTypeImports = false) => ({
  group: patterns,
  message,
  allowTypeImports,
});

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
  {
    files: ['src/core/{qemu,storage,network,store}/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The core never imports electron.' }],
        patterns: [restrict(['../services/*', '../server/*'], 'Lower layers do not import services or hosts.')],
      }],
    },
  },
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
