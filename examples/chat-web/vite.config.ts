import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The example web client (README › Using it from a frontend › Example web client). Everything it runs is bundled
 * from npm into `dist/` (no CDN), so the built page works offline; `base: './'` lets any static server host it
 * under any path. `@tenantgraph/sdk` resolves to the project's own SDK sources, what the published package is
 * built from (packages/sdk), so the example uses the same typed documents as every other client.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  resolve: {
    alias: { '@tenantgraph/sdk': fileURLToPath(new URL('../../src/sdk/index.ts', import.meta.url)) },
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
});
