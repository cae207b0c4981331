import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { findChangedMigrations, type ChangedMigration } from './migration-checksums.js';
import { createPool } from './pool.js';
import { readMigrationFiles, SqlFileMigrationProvider } from './sql-file-migrations.js';

export interface MigrationStatus {
  /** Shipped migrations the database has not applied, in order. */
  pending: string[];
  /** Applied migrations whose file differs from the checksum recorded when it was applied. */
  changed: ChangedMigration[];
}

/**
 * Compares the shipped migrations with the database: which are pending, which applied ones were edited since.
 *
 * Connects as the owner, once, and closes the connection: the bookkeeping tables `kysely_migration` and
 * `kysely_migration_checksum` are not tenant tables, and the app role may touch nothing but tenant tables (the
 * start-up check holds it to that), so the running server cannot ask this question as the app role.
 */
export async function findMigrationStatus(ownerUrl: string, directory?: string): Promise<MigrationStatus> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({
      pool: createPool({ connectionString: ownerUrl, max: 1, applicationName: 'tenantgraph-migration-status' }),
    }),
  });
  try {
    const files = await readMigrationFiles(directory);
    const migrations = await new Migrator({ db, provider: new SqlFileMigrationProvider(directory, { files }) }).getMigrations();
    return {
      pending: migrations.filter((migration) => !migration.executedAt).map((migration) => migration.name),
      changed: await findChangedMigrations(db, files),
    };
  } finally {
    await db.destroy();
  }
}
