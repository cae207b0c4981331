import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { ChangedMigrationsError, ensureChecksumTable, findChangedMigrations, recordMissingChecksums } from './migration-checksums.js';
import { createPool } from './pool.js';
import { MIGRATIONS_DIR, readMigrationFiles, SqlFileMigrationProvider } from './sql-file-migrations.js';

export interface MigrationReport {
  applied: string[];
  /** Migrations applied before checksums existed, whose checksums this run recorded (once per database). */
  checksummed: string[];
}

/**
 * Applies pending migrations as the owner role. Safe to run from several instances at once: Kysely's
 * Migrator takes a PostgreSQL advisory lock and runs the pending set in one transaction, recording each file's
 * checksum in it. Before anything runs, every applied migration is verified against its recorded checksum: an
 * edited applied file throws {@link ChangedMigrationsError} naming it, and nothing is applied. Applied migrations
 * without a checksum (a database migrated before checksums existed) get theirs recorded from the files as they
 * are now. Throws with the failing migration's name and the database's message.
 */
export async function migrateToLatest(ownerUrl: string, directory: string = MIGRATIONS_DIR): Promise<MigrationReport> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: createPool({ connectionString: ownerUrl, max: 1, applicationName: 'tenantgraph-migrate' }) }),
  });
  try {
    const files = await readMigrationFiles(directory);
    await ensureChecksumTable(db);
    const changed = await findChangedMigrations(db, files);
    if (changed.length) throw new ChangedMigrationsError(changed);
    const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(directory, { files, recordChecksums: true }) });
    const { error, results = [] } = await migrator.migrateToLatest();
    if (error) {
      const failed = results.find((r) => r.status === 'Error');
      const reason = error instanceof Error ? error.message : String(error);
      const hint = (error as { hint?: string }).hint;
      throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${reason}${hint ? `\nHint: ${hint}` : ''}`, {
        cause: error,
      });
    }
    const checksummed = await recordMissingChecksums(db, files);
    return { applied: results.filter((r) => r.status === 'Success').map((r) => r.migrationName), checksummed };
  } finally {
    await db.destroy();
  }
}
