import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Migration, type MigrationProvider } from 'kysely';
import { checksumOf, recordChecksum, type MigrationFile } from './migration-checksums.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

const MIGRATION_FILE = /^\d{4}_[a-z0-9_]+\.sql$/;

/** Reads every `NNNN_slug.sql` of `directory`, in order, with its checksum. Throws on a misnamed `.sql` file. */
export async function readMigrationFiles(directory: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const file of names) {
    if (!MIGRATION_FILE.test(file)) {
      throw new Error(`Migration file "${file}" must be named NNNN_lowercase_slug.sql`);
    }
    const text = await readFile(path.join(directory, file), 'utf8');
    files.push({ name: file.replace(/\.sql$/, ''), text, sha256: checksumOf(text) });
  }
  return files;
}

/**
 * Feeds plain `NNNN_slug.sql` files to Kysely's `Migrator`, which does the bookkeeping: the
 * `kysely_migration` table, ordering, an advisory lock against concurrent runs, and one transaction.
 *
 * Each file runs as one simple-protocol query (no parameters), so a file may hold many statements and
 * `DO` blocks. Migrations are forward-only: there is no `down`. With `recordChecksums` each applied file's
 * checksum is recorded in the same transaction (migration-checksums.ts; the table must exist, migrate.ts
 * creates it first).
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly directory: string = MIGRATIONS_DIR,
    private readonly options: { files?: MigrationFile[]; recordChecksums?: boolean } = {},
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = this.options.files ?? (await readMigrationFiles(this.directory));
    const migrations: Record<string, Migration> = {};
    for (const file of files) {
      migrations[file.name] = {
        up: async (db) => {
          await sql.raw(file.text).execute(db);
          if (this.options.recordChecksums) await recordChecksum(db, file);
        },
      };
    }
    return migrations;
  }
}
