/**
 * `npm run bench:seed -- [--tenants N] [--messages M] [--zipf S] [--keep]`
 *
 * Generates the benchmark data set in a database of its own and reports its shape and how long it took.
 * Without --keep the database is removed at the end (`npm run bench` seeds its own); with --keep the process
 * waits (embedded) or leaves the database on BENCH_DATABASE_URL's server and prints its URL.
 */
import { parseArgs } from 'node:util';
import { createBenchDatabase } from './lib/bench-database.js';
import { loadTenants } from './lib/dataset.js';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '1000000' },
    zipf: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});

const tenants = positive(values.tenants, 'tenants');
const messages = positive(values.messages, 'messages');
const exponent = Number(values.zipf);

const database = await createBenchDatabase((line) => console.error(line));
console.error(`[bench:seed] ${database.description}`);
try {
  const report = await loadTenants(database.ownerUrl, { kind: 'zipf', tenants, messages, exponent });
  console.log(JSON.stringify(report, null, 2));
  if (values.keep) {
    console.log(`owner URL: ${database.ownerUrl}\napp URL: ${database.appUrl}`);
    if (database.embedded) {
      console.error('[bench:seed] --keep: embedded PostgreSQL runs until you press Ctrl-C');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
  }
} finally {
  if (!values.keep || database.embedded) await database.close();
}

function positive(value: string | undefined, name: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive integer, received ${JSON.stringify(value)}`);
  return parsed;
}
