import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { APP_ROLE, createDatabaseIfMissing, enableAppRoleLogin } from '../../src/db/prepare-database.js';
import { dropNoRlsRole, ensureNoRlsRole, NO_RLS_ROLE } from './no-rls-role.js';
import { dropDatabase, freePort, withDatabase, withUser } from '../../src/db/database-urls.js';

export interface BenchDatabase {
  /** Superuser: loads the data set (bypassing RLS) and creates roles. */
  ownerUrl: string;
  /** tenantgraph_app: the API as shipped and the floor. */
  appUrl: string;
  /** tenantgraph_bench_norls (BYPASSRLS): the API without RLS. */
  noRlsUrl: string;
  description: string;
  /** True when PostgreSQL runs on this machine (embedded), so its processes' CPU time can be read. */
  embedded: boolean;
  /** Drops the database (BENCH_DATABASE_URL) or stops the embedded PostgreSQL and deletes its files. */
  close(): Promise<void>;
}

/**
 * The benchmark's own database, never the development one: a uniquely named database on the server in
 * BENCH_DATABASE_URL (a superuser URL; dropped at the end), or a throw-away embedded PostgreSQL under
 * os.tmpdir(). Migrated with the project's migrations; the app role and the bench-only BYPASSRLS role can log in.
 */
export async function createBenchDatabase(log: (line: string) => void): Promise<BenchDatabase> {
  const name = `tenantgraph_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const external = process.env.BENCH_DATABASE_URL;
  if (external) {
    await createDatabaseIfMissing(external, name);
    const ownerUrl = withDatabase(external, name);
    try {
      await migrateToLatest(ownerUrl);
      // No passwords are changed on a server we do not own: it must trust loopback logins (or the roles already
      // have the passwords given in BENCH_APP_PASSWORD / BENCH_NORLS_PASSWORD).
      await enableAppRoleLogin(ownerUrl, null);
      await ensureNoRlsRole(ownerUrl, NO_RLS_ROLE, null);
    } catch (error) {
      await dropDatabase(external, name);
      throw error;
    }
    return {
      ownerUrl,
      appUrl: withUser(ownerUrl, APP_ROLE, process.env.BENCH_APP_PASSWORD ?? ''),
      noRlsUrl: withUser(ownerUrl, NO_RLS_ROLE, process.env.BENCH_NORLS_PASSWORD ?? ''),
      description: `database ${name} on ${new URL(external).host}`,
      embedded: false,
      async close() {
        await dropDatabase(external, name);
        await dropNoRlsRole(external, NO_RLS_ROLE).catch((error) => log(`could not drop role ${NO_RLS_ROLE}: ${error}`));
      },
    };
  }

  const dataRoot = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-bench-'));
  await chmod(dataRoot, 0o755);
  const port = await freePort();
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dataRoot, 'pg'),
    port,
    password: randomBytes(16).toString('hex'),
    persistent: false,
  });
  const close = async () => {
    await server.stop();
    await rm(dataRoot, { recursive: true, force: true });
  };
  try {
    await createDatabaseIfMissing(server.urlFor('postgres'), 'tenantgraph_bench');
    const ownerUrl = server.urlFor('tenantgraph_bench');
    await migrateToLatest(ownerUrl);
    const appPassword = randomBytes(16).toString('hex');
    const noRlsPassword = randomBytes(16).toString('hex');
    await enableAppRoleLogin(ownerUrl, appPassword);
    await ensureNoRlsRole(ownerUrl, NO_RLS_ROLE, noRlsPassword);
    return {
      ownerUrl,
      appUrl: withUser(ownerUrl, APP_ROLE, appPassword),
      noRlsUrl: withUser(ownerUrl, NO_RLS_ROLE, noRlsPassword),
      description: `embedded PostgreSQL on port ${port} (${dataRoot})`,
      embedded: true,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
