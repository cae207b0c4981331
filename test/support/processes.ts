import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli as runCliCommand } from '../../src/cli/run-cli.js';
import { loadEnv } from '../../src/config/env.js';

/** The repository root: child processes run there, as `npm start` and `npm run cli` do. */
export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A child's environment: only what a shell gives any process (PATH, HOME, ...) plus `env`. Nothing leaks in from
 * the test run — in particular no DATABASE_URL, JWT_* or TEST_DATABASE_URL the developer happens to have set.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const inherited = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'].flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : []));
  return { ...Object.fromEntries(inherited), LOG_LEVEL: 'warn', ...env };
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx src/cli/main.ts ...args` (what `npm run -s cli --` runs) and collects its output. */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: REPOSITORY_ROOT, env: childEnv(env), timeout: 60_000 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

/**
 * The same CLI invocation in this process, through src/cli/run-cli.ts: the commands' Env is built from `env` alone
 * (plus LOG_LEVEL=warn, as `childEnv` gives a child), never from this process's environment. A child costs about
 * a second of tsx start-up each; the spawn tests that remain (test/cli.test.ts, the psql tests) prove what only the
 * real process shows: exit statuses and stdout apart from stderr.
 */
export async function runCliInProcess(args: string[], env: Record<string, string>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const status = await runCliCommand(args, () => loadEnv({ LOG_LEVEL: 'warn', ...env }), {
    out: (line) => (stdout += `${line}\n`),
    log: (line) => (stderr += `${line}\n`),
  });
  return { status, stdout, stderr };
}

/** Spawns `node --import tsx src/main.ts` (what `npm start` execs). */
export function spawnServer(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPOSITORY_ROOT, env: childEnv(env), stdio: 'pipe' });
}

/** Resolves with everything the stream printed once `done(text)` holds; rejects on timeout or when the child exits. */
export function waitForOutput(child: ChildProcess, done: (text: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    let errors = '';
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onError);
      child.off('exit', onExit);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (done(text)) finish(() => resolve(text));
    };
    const onError = (chunk: Buffer) => (errors += chunk.toString('utf8'));
    const onExit = (code: number | null) =>
      finish(() => reject(new Error(`process exited (${code}) before the expected output.\nstdout:\n${text}\nstderr:\n${errors}`)));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`timed out after ${timeoutMs} ms.\nstdout:\n${text}\nstderr:\n${errors}`))),
      timeoutMs,
    );
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onError);
    child.once('exit', onExit);
  });
}

/** Resolves with the exit code (or the signal's name) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

export { freePort } from '../../src/db/database-urls.js';

/** The pid in `<dataDir>/postgres/postmaster.pid` (the embedded cluster `npm start` runs there), or null. */
export async function postmasterPidOf(dataDir: string): Promise<number | null> {
  const text = await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => null);
  return text ? Number(text.split('\n')[0]) : null;
}

// Whether a process with this pid exists: the product's own check (it also counts another user's process, EPERM).
export { isAlive } from '../../src/db/data-dir-lock.js';
