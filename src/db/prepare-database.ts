import path from 'node:path';
import type { Env } from '../config/env.js';
import { loadDevSecrets } from '../config/dev-secrets.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { migrateToLatest } from './migrate.js';
import { connectClient } from './guarded-client.js';
import { APP_ROLE } from './tenant-catalog.js';

export { APP_ROLE };

const EMBEDDED_DATABASE = 'tenantgraph';

export interface PreparedDatabase {
  /** Owner role: runs migrations, owns the tables, administers tenants (CLI). */
  ownerUrl: string;
  /** App role: what the API server connects as. Subject to RLS. */
  appUrl: string;
  embedded: boolean;
  /** Migrations this call applied, in order (empty when it did not migrate or nothing was pending). */
  applied: string[];
  /** Stops the embedded PostgreSQL (no-op for a configured server). */
  stop(): Promise<void>;
}

/**
 * Finds the database the way `npm start` and the CLI both do: DATABASE_URL / DATABASE_URL_APP when set,
 * otherwise an embedded PostgreSQL under DATA_DIR (reused when another live process, e.g. a running server,
 * already started it; `stop()` then leaves it running). Applies pending migrations unless told not to.
 */
export async function prepareDatabase(
  env: Env,
  options: {
    migrate: boolean;
    /** PostgreSQL's own log lines (embedded only). */
    log?: (line: string) => void;
    /** One line per step begun ("applying migrations"), for the start-up log. */
    progress?: (step: string) => void;
  } = { migrate: true },
): Promise<PreparedDatabase> {
  const migrate = async (ownerUrl: string) => {
    if (!options.migrate) return [];
    options.progress?.('applying migrations');
    return (await migrateToLatest(ownerUrl)).applied;
  };
  if (env.DATABASE_URL && env.DATABASE_URL_APP) {
    const applied = await migrate(env.DATABASE_URL);
    return { ownerUrl: env.DATABASE_URL, appUrl: env.DATABASE_URL_APP, embedded: false, applied, stop: async () => {} };
  }

  const secrets = await loadDevSecrets(env.DATA_DIR);
  const server = await startEmbeddedPostgres({
    dataDir: path.join(env.DATA_DIR, 'postgres'),
    port: env.EMBEDDED_PG_PORT,
    password: secrets.postgresPassword,
    persistent: true,
    onLog: options.log,
  });
  try {
    await createDatabaseIfMissing(server.urlFor('postgres'), EMBEDDED_DATABASE);
    const ownerUrl = server.urlFor(EMBEDDED_DATABASE);
    const applied = await migrate(ownerUrl);
    await enableAppRoleLogin(ownerUrl, secrets.appPassword);
    const appUrl = `postgres://${APP_ROLE}:${secrets.appPassword}@127.0.0.1:${server.port}/${EMBEDDED_DATABASE}`;
    return { ownerUrl, appUrl, embedded: true, applied, stop: () => server.stop() };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export async function createDatabaseIfMissing(maintenanceUrl: string, name: string): Promise<void> {
  const client = await connectClient({ connectionString: maintenanceUrl });
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) {
      await client.query(`create database "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        // Another process created it between our check and our CREATE (42P04 duplicate_database, or the unique
        // index on pg_database when both CREATEs ran at once): it exists, which is all we wanted.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * The migrations create the app role NOLOGIN; a local database gives it a login with a generated password.
 * The password is hex, so inlining it (ALTER ROLE takes no parameters) is safe.
 *
 * Safe to run from several processes at once (`npm start` and CLI commands starting together): two concurrent
 * ALTER ROLEs of one role fail with "tuple concurrently updated", so they are serialised by a transaction-level
 * advisory lock.
 */
export async function enableAppRoleLogin(ownerUrl: string, password: string | null): Promise<void> {
  if (password !== null && !/^[0-9a-f]+$/.test(password)) throw new Error('App role password must be hex');
  const client = await connectClient({ connectionString: ownerUrl });
  try {
    await client.query('begin');
    await client.query("select pg_advisory_xact_lock(hashtext('tenantgraph: app role login'))");
    await client.query(`alter role ${APP_ROLE} login ${password === null ? '' : `password '${password}'`}`);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
