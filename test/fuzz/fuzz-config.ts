/**
 * The fuzzer's knobs, read from the environment so that `npm test`, `npm run fuzz` and a replay all run the same
 * file. FUZZ_SEED and FUZZ_PATH are what fast-check prints on a failure; FUZZ_RUNS overrides the CI budget.
 */
export interface FuzzConfig {
  /** fast-check's seed: the same seed generates the same sequences of operations. */
  seed: number;
  /** Runs to make, or null for "as many as the CI budget of operations needs". */
  runs: number | null;
  /** fast-check's replay path of one (shrunk) counterexample, e.g. "3:1:0". */
  path: string | null;
  /** Operations a plain `npm test` runs at least (issue 3: "CI runs at least 1,000 operations"). */
  minOperations: number;
  /** Time after which fast-check stops (generation or shrinking): FUZZ_BUDGET_SECONDS, by default 4 min + 15 s a run. */
  budgetMs: number;
  /** fast-check's verbosity (FUZZ_VERBOSE): 0 prints the shrunk counterexample, 1 adds every failure met while shrinking. */
  verbose: 0 | 1 | 2;
}

export function readFuzzConfig(env: NodeJS.ProcessEnv = process.env): FuzzConfig {
  const seed = env.FUZZ_SEED ? parseInteger('FUZZ_SEED', env.FUZZ_SEED) : randomSeed();
  const runs = env.FUZZ_RUNS ? parseInteger('FUZZ_RUNS', env.FUZZ_RUNS) : null;
  if (runs !== null && runs < 1) throw new Error(`FUZZ_RUNS must be a positive integer, received ${JSON.stringify(env.FUZZ_RUNS)}`);
  const budgetSeconds = env.FUZZ_BUDGET_SECONDS ? parseInteger('FUZZ_BUDGET_SECONDS', env.FUZZ_BUDGET_SECONDS) : 240 + 15 * (runs ?? 0);
  const verbose = env.FUZZ_VERBOSE ? parseInteger('FUZZ_VERBOSE', env.FUZZ_VERBOSE) : 0;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) {
    throw new Error(`FUZZ_VERBOSE must be 0, 1 or 2, received ${JSON.stringify(env.FUZZ_VERBOSE)}`);
  }
  return { seed, runs, path: env.FUZZ_PATH || null, minOperations: 1000, budgetMs: budgetSeconds * 1000, verbose };
}

function parseInteger(name: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new Error(`${name} must be an integer, received ${JSON.stringify(value)}`);
  const parsed = Number(value);
  // fast-check seeds are 32-bit; the same truncation it applies itself.
  return name === 'FUZZ_SEED' ? parsed | 0 : parsed;
}

function randomSeed(): number {
  return (Date.now() ^ Math.floor(Math.random() * 0x1_0000_0000)) | 0;
}
