import { mkdtemp, rm } from 'node:fs/promises';
import { chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { APP_ROLE, createDatabaseIfMissing, enableAppRoleLogin } from '../../src/db/prepare-database.js';
import { enableOperatorRoleLogin, OPERATOR_ROLE } from '../../src/db/operator-role.js';
import { dropDatabase, freePort, withDatabase, withUser } from '../../src/db/database-urls.js';

export interface TestDatabase {
  ownerUrl: string;
  appUrl: string;
  /** tenantgraph_operator's login, straight to PostgreSQL (never through PgBouncer): what `cli sql` binds. */
  operatorUrl: string;
  /** Where it runs, for the test log. */
  description: string;
  drop(): Promise<void>;
}

const APP_PASSWORD = 'a11ce5ca1ab1e0000000000000000000';

/**
 * A fresh, migrated database for one test run (the suite's global setup, tests that need a database of their
 * own) or one `npm run codegen`: it lives in scripts/ because both the tools and the tests use it, and scripts/
 * does not import test/. on the server in TEST_DATABASE_URL (a uniquely named database,
 * dropped afterwards), or on a throw-away embedded PostgreSQL.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tenantgraph_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    await createDatabaseIfMissing(external, name);
    const ownerUrl = withDatabase(external, name);
    await migrateToLatest(ownerUrl);
    // Login without changing the role's password: on a trust-auth server none is needed; elsewhere pass
    // TEST_DATABASE_APP_PASSWORD.
    await enableAppRoleLogin(ownerUrl, null);
    // TEST_PGBOUNCER_URL (e.g. postgres://127.0.0.1:6432): the server's app-role connections go through
    // PgBouncer in transaction pooling mode, as in production behind it (see .ci/pgbouncer.sh).
    const appUrl = viaPgBouncer(withUser(ownerUrl, APP_ROLE, process.env.TEST_DATABASE_APP_PASSWORD ?? ''));
    const operatorUrl = withUser(ownerUrl, OPERATOR_ROLE, process.env.TEST_DATABASE_APP_PASSWORD ?? '');
    await enableOperatorRoleLogin(ownerUrl, operatorUrl, null);
    return {
      ownerUrl,
      appUrl,
      operatorUrl,
      description: `database ${name} on ${new URL(external).host}${process.env.TEST_PGBOUNCER_URL ? `, app role through PgBouncer at ${new URL(process.env.TEST_PGBOUNCER_URL).host}` : ''}`,
      drop: () => dropDatabase(external, name),
    };
  }

  const dataRoot = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-test-'));
  await chmod(dataRoot, 0o755);
  const port = await freePort();
  const server = await startEmbeddedPostgres({ dataDir: path.join(dataRoot, 'pg'), port, password: 'postgres', persistent: false });
  await createDatabaseIfMissing(server.urlFor('postgres'), name);
  const ownerUrl = server.urlFor(name);
  await migrateToLatest(ownerUrl);
  await enableAppRoleLogin(ownerUrl, APP_PASSWORD);
  const operatorUrl = withUser(ownerUrl, OPERATOR_ROLE, APP_PASSWORD);
  await enableOperatorRoleLogin(ownerUrl, operatorUrl, APP_PASSWORD);
  return {
    ownerUrl,
    appUrl: withUser(ownerUrl, APP_ROLE, APP_PASSWORD),
    operatorUrl,
    description: `embedded PostgreSQL on port ${port}`,
    // stop() deletes only the cluster (persistent: false); the folder around it goes too.
    drop: async () => {
      await server.stop();
      await rm(dataRoot, { recursive: true, force: true });
    },
  };
}

function viaPgBouncer(url: string): string {
  const bouncer = process.env.TEST_PGBOUNCER_URL;
  if (!bouncer) return url;
  const parsed = new URL(url);
  const target = new URL(bouncer);
  parsed.host = target.host;
  // Says "a pooler" to DATABASE_PREPARED_STATEMENTS=auto (src/db/prepared-statements.ts): PgBouncer 1.18 in
  // transaction mode cannot keep named statements, so the server's pool sends unnamed ones through it.
  parsed.searchParams.set('pgbouncer', 'true');
  return parsed.toString();
}
