import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, externalizeDepsPlugin } from 'electron-vite';

/**
 * Three bundles: the Electron main process (plus the core's utility-process entry), the
 * sandboxed preload (CommonJS), and the renderer, which web mode serves unchanged.
 */
export default defineConfig({
  main: {
    plugins: [externalizeDepsPlugin()],
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          core: resolve(__dirname, 'src/core/server/utility.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/main/preload.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [react()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      // The same minified output as vite.config.ts: web mode serves whichever built last.
      minify: 'esbuild',
      chunkSizeWarningLimit: 2000,
      rollupOptions: { input: resolve(__dirname, 'src/renderer/index.html') },
    },
  },
});
