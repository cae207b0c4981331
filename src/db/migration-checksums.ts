import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { DatabaseRefusal } from './database-refusal.js';

/**
 * Applied migrations are checksummed, because Kysely's Migrator remembers only their names: an applied file
 * edited afterwards would otherwise go unnoticed, and a database migrated from it would differ from a fresh one.
 *
 * The table lives beside Kysely's own bookkeeping (`kysely_migration`, same schema, the owner's first on its
 * search_path) and, like it, is the owner's alone: no grant to the app role (the start-up check would refuse one).
 * Its name matches codegen's `kysely_*` exclusion, so it is no part of the generated row types.
 */
export const CHECKSUM_TABLE = 'kysely_migration_checksum';

/** A migration file as read once: what runs and what is checksummed are the same bytes. */
export interface MigrationFile {
  /** The file name without `.sql`: the name Kysely records. */
  name: string;
  text: string;
  /** SHA-256 of the file's UTF-8 text, hex. */
  sha256: string;
}

export function checksumOf(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** An applied migration whose file is no longer what was applied. */
export interface ChangedMigration {
  file: string;
  recorded: string;
  current: string;
}

export class ChangedMigrationsError extends DatabaseRefusal {
  constructor(readonly changed: ChangedMigration[]) {
    super(
      'Refusing to start: applied migrations were edited after they ran (migrations are forward-only).',
      changed.map(
        (c) =>
          `${c.file} changed since it was applied (recorded sha256 ${c.recorded.slice(0, 12)}…, the file now ${c.current.slice(0, 12)}…). Fix: restore the file as it was applied (git checkout it) and put the change into a new migration.`,
      ),
    );
  }
}

/**
 * Creates the checksum table if missing. Serialised by a transaction-level advisory lock, so instances that
 * migrate at the same time do not race on CREATE TABLE IF NOT EXISTS.
 */
export async function ensureChecksumTable(db: Kysely<any>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${CHECKSUM_TABLE}))`.execute(tx);
    await sql`create table if not exists ${sql.id(CHECKSUM_TABLE)} (
                name        varchar(255) primary key,
                sha256      char(64) not null check (sha256 ~ '^[0-9a-f]{64}$'),
                recorded_at timestamptz not null default now())`.execute(tx);
  });
}

/** Records one migration's checksum; called inside the migration's own transaction (sql-file-migrations.ts). */
export async function recordChecksum(db: Kysely<any>, file: MigrationFile): Promise<void> {
  await sql`insert into ${sql.id(CHECKSUM_TABLE)} (name, sha256) values (${file.name}, ${file.sha256})
            on conflict (name) do update set sha256 = excluded.sha256, recorded_at = now()`.execute(db);
}

/**
 * Applied migrations whose file differs from the checksum recorded when it ran. Read-only: a database without
 * the tables (never migrated, or migrated before checksums existed) has nothing to compare and reports nothing.
 */
export async function findChangedMigrations(db: Kysely<any>, files: readonly MigrationFile[]): Promise<ChangedMigration[]> {
  const { rows } = await sql<{ present: boolean }>`
    select to_regclass(${CHECKSUM_TABLE}) is not null and to_regclass('kysely_migration') is not null as present`.execute(db);
  if (!rows[0]?.present) return [];
  const { rows: recorded } = await sql<{ name: string; sha256: string }>`
    select c.name, c.sha256 from ${sql.id(CHECKSUM_TABLE)} c join kysely_migration m on m.name = c.name`.execute(db);
  const byName = new Map(files.map((f) => [f.name, f]));
  return recorded
    .filter((r) => byName.has(r.name) && byName.get(r.name)!.sha256 !== r.sha256)
    .map((r) => ({ file: `${r.name}.sql`, recorded: r.sha256, current: byName.get(r.name)!.sha256 }))
    .sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * Records the checksums of applied migrations that have none: those a database applied before checksums
 * existed. Their files are trusted as they are on this first run; from then on they are verified. Returns the
 * names recorded.
 */
export async function recordMissingChecksums(db: Kysely<any>, files: readonly MigrationFile[]): Promise<string[]> {
  const { rows: applied } = await sql<{ name: string }>`
    select m.name from kysely_migration m
     where not exists (select from ${sql.id(CHECKSUM_TABLE)} c where c.name = m.name) order by m.name`.execute(db);
  const byName = new Map(files.map((f) => [f.name, f]));
  const recorded: string[] = [];
  for (const { name } of applied) {
    const file = byName.get(name);
    if (!file) continue; // Kysely itself refuses applied migrations that are missing
    await sql`insert into ${sql.id(CHECKSUM_TABLE)} (name, sha256) values (${name}, ${file.sha256}) on conflict (name) do nothing`.execute(db);
    recorded.push(name);
  }
  return recorded;
}
