import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { createPool } from './pool.js';
import { SqlFileMigrationProvider } from './sql-file-migrations.js';

export interface MigrationReport {
  applied: string[];
}

/**
 * Applies pending migrations as the owner role. Safe to run from several instances at once: Kysely's
 * Migrator takes a PostgreSQL advisory lock and runs the pending set in one transaction.
 * Throws with the failing migration's name and the database's message.
 */
export async function migrateToLatest(ownerUrl: string): Promise<MigrationReport> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: createPool({ connectionString: ownerUrl, max: 1, applicationName: 'tenantgraph-migrate' }) }),
  });
  try {
    const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider() });
    const { error, results = [] } = await migrator.migrateToLatest();
    if (error) {
      const failed = results.find((r) => r.status === 'Error');
      const reason = error instanceof Error ? error.message : String(error);
      const hint = (error as { hint?: string }).hint;
      throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}${hint ? `\nHint: ${hint}` : ''}`, {
        cause: error,
      });
    }
    return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName) };
  } finally {
    await db.destroy();
  }
}
