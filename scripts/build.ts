// `npm run build`: compiles the product (src/) with tsc into dist/ (tsconfig.build.json), so production runs
// `node dist/main.js` with neither tsx nor TypeScript installed. `--out-dir DIR` builds elsewhere (the build test).
//
// tsc emits only JavaScript. The non-TypeScript files the server reads next to its own modules are copied beside
// the compiled ones; the SQL migrations and the SDL stay where they are (repository root), found from dist/ the
// same way as from src/. dist/explorer (the offline explorer, built by `prepare`) is left untouched: tsc writes
// only the files it compiles.
import { execFileSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SDK_OPERATIONS_DIR } from '../src/observability/operation-names.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC_DIR = path.join(ROOT, 'src');
/** Directories of src/ holding files the server reads at run time (not modules). */
const RUNTIME_FILE_DIRS = [SDK_OPERATIONS_DIR];

const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: path.join(ROOT, 'dist') } } });
const outDir = path.resolve(values['out-dir']!);

const started = performance.now();
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { stdio: 'inherit' });
for (const dir of RUNTIME_FILE_DIRS) {
  await cp(dir, path.join(outDir, path.relative(SRC_DIR, dir)), { recursive: true });
}
console.log(`build: compiled src/ into ${outDir} in ${Math.round(performance.now() - started)} ms`);
