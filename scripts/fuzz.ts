/**
 * `npm run fuzz -- --runs 200 [--seed 123] [--path "7:1:0"] [--budget 1800] [--verbose 1]`
 *
 * Runs the isolation fuzzer (test/fuzz) with more runs than CI, or replays a seed (and path) that a failing run
 * printed. Only translates flags into the FUZZ_* variables the test reads and runs `vitest run test/fuzz`.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'Usage: npm run fuzz -- [--runs N] [--seed S] [--path P] [--budget SECONDS] [--verbose 0|1|2]';

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      runs: { type: 'string' },
      seed: { type: 'string' },
      path: { type: 'string' },
      budget: { type: 'string' },
      verbose: { type: 'string' },
    },
    strict: true,
  }));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

for (const [name, value] of Object.entries(values)) {
  const ok = name === 'path' ? /^\d+(:\d+)*$/.test(value ?? '') : /^-?\d+$/.test(value ?? '');
  if (!ok) {
    const expected = name === 'path' ? 'a fast-check path such as "7:1:0"' : 'an integer';
    console.error(`--${name} expects ${expected}, received ${JSON.stringify(value)}\n${USAGE}`);
    process.exit(2);
  }
}

const env = { ...process.env };
const names = { runs: 'FUZZ_RUNS', seed: 'FUZZ_SEED', path: 'FUZZ_PATH', budget: 'FUZZ_BUDGET_SECONDS', verbose: 'FUZZ_VERBOSE' } as const;
for (const [flag, variable] of Object.entries(names)) {
  const value = values[flag];
  if (value !== undefined) env[variable] = value;
}

// vitest's bin (its package exports only package.json, not the bin file).
const vitestPackage = createRequire(import.meta.url).resolve('vitest/package.json');
const vitest = path.join(path.dirname(vitestPackage), 'vitest.mjs');
const child = spawn(process.execPath, [vitest, 'run', 'test/fuzz'], { stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
