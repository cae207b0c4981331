import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Migration, type MigrationProvider } from 'kysely';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/**
 * Feeds plain `NNNN_slug.sql` files to Kysely's `Migrator`, which does the bookkeeping: the
 * `kysely_migration` table, ordering, an advisory lock against concurrent runs, and one transaction.
 *
 * Each file runs as one simple-protocol query (no parameters), so a file may hold many statements and
 * `DO` blocks. Migrations are forward-only: there is no `down`.
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly directory: string = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = (await readdir(this.directory)).filter((name) => name.endsWith('.sql')).sort();
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      if (!MIGRATION_FILE.test(file)) {
        throw new Error(`Migration file "${file}" must be named NNNN_lowercase_slug.sql`);
      }
      const text = await readFile(path.join(this.directory, file), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = { up: async (db) => void (await sql.raw(text).execute(db)) };
    }
    return migrations;
  }
}
