import { ConfigError, type Env } from '../config/env.js';
import { auditCommand } from './audit-command.js';
import type { CliCommand, CliIo } from './cli-context.js';
import { explainCommand } from './explain-command.js';
import { migrateCommand } from './migrate-command.js';
import { seedCommand } from './seed-command.js';
import { sqlCommand } from './sql-command.js';
import { tenantCommand } from './tenant-command.js';
import { tenantPoliciesCommand } from './tenant-policies-command.js';
import { tokenCommand } from './token-command.js';
import { asUsageError, USAGE, UsageError } from './usage.js';

const COMMANDS: Record<string, CliCommand<any>> = {
  migrate: migrateCommand,
  seed: seedCommand,
  tenant: tenantCommand,
  token: tokenCommand,
  audit: auditCommand,
  explain: explainCommand,
  sql: sqlCommand,
  'tenant-policies': tenantPoliciesCommand,
};

/**
 * Runs one CLI invocation and returns its exit status: 0 done, 1 failed (configuration, database, unknown
 * member), 2 bad arguments. `loadEnv` is called only after the arguments parsed, so a typo is reported as such
 * even when the environment is broken too. src/cli/main.ts is this plus process.argv, process.env and the exit;
 * the tests call it in-process with their own environment and io.
 */
export async function runCli(argv: string[], loadEnv: () => Env, io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return 0;
  }
  try {
    if (name === undefined) throw new UsageError('missing command');
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    const options: unknown = command.parse(args);
    await command.run(options, loadEnv(), io);
    return 0;
  } catch (caught) {
    const error = asUsageError(caught);
    if (error instanceof UsageError) {
      io.log(`error: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ConfigError) io.log(error.message);
    else io.log(`error: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
