import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { createPool } from './pool.js';
import { SqlFileMigrationProvider } from './sql-file-migrations.js';

/**
 * The migrations this build ships that the database has not applied, in order (empty when it is up to date).
 *
 * Connects as the owner, once, and closes the connection: the bookkeeping table `kysely_migration` is not a tenant
 * table, and the app role may touch nothing but tenant tables (test/rls/catalog.test.ts holds it to that), so the
 * running server cannot ask this question as the app role.
 */
export async function findPendingMigrations(ownerUrl: string, directory?: string): Promise<string[]> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({
      pool: createPool({ connectionString: ownerUrl, max: 1, applicationName: 'tenantgraph-migration-status' }),
    }),
  });
  try {
    const migrations = await new Migrator({ db, provider: new SqlFileMigrationProvider(directory) }).getMigrations();
    return migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name);
  } finally {
    await db.destroy();
  }
}
