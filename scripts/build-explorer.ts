// Bundles the offline explorer (GraphiQL from npm, no CDN) into dist/explorer/. Runs as `prepare`, so every
// `npm install` / `npm ci` builds it from exactly the installed packages; `npm run build:explorer` runs it by hand.
// An install without dev dependencies (`npm ci --omit=dev`) has no GraphiQL: it is skipped, and the server says
// so when the explorer is switched on.
import { createRequire } from 'node:module';
import { rm } from 'node:fs/promises';
import { EXPLORER_DIST_DIR, EXPLORER_ENTRY, EXPLORER_WORKERS } from '../src/server/explorer/explorer-assets.js';

const require = createRequire(import.meta.url);
try {
  require.resolve('graphiql/package.json');
} catch {
  console.log('build-explorer: graphiql is not installed (dev dependencies omitted); the offline explorer is not built.');
  process.exit(0);
}
const esbuild = await import('esbuild');
await rm(EXPLORER_DIST_DIR, { recursive: true, force: true });
const common = {
  bundle: true,
  minify: true,
  outdir: EXPLORER_DIST_DIR,
  // Classic scripts: `new Worker(url)` without `{ type: 'module' }` works in every browser.
  format: 'iife' as const,
  target: 'es2022',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.ttf': 'file' as const },
  logLevel: 'warning' as const,
  legalComments: 'none' as const,
};
const started = performance.now();
await esbuild.build({ ...common, entryPoints: { 'graphiql-app': EXPLORER_ENTRY } });
await esbuild.build({
  ...common,
  entryPoints: Object.fromEntries(Object.entries(EXPLORER_WORKERS).map(([name, module]) => [name, require.resolve(module)])),
});
console.log(`build-explorer: built ${EXPLORER_DIST_DIR} in ${Math.round(performance.now() - started)} ms`);
