import { parseArgs } from 'node:util';
import type { Env } from '../config/env.js';
import { withDatabase, type CliCommand } from './cli-context.js';

/** `migrate`: applies pending migrations (as `npm start` does) and prints what it applied. */
export const migrateCommand: CliCommand<void> = {
  parse(args) {
    parseArgs({ args, options: {}, strict: true });
  },
  async run(_options, env: Env, io) {
    const applied = await withDatabase(env, io, async (database) => database.applied);
    io.out(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
  },
};
