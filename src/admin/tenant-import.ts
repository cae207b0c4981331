import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type pg from 'pg';
import { connectClient } from '../db/guarded-client.js';
import { exportLinesQuery, ident, listTenantTableLayouts, type TenantTableLayout } from '../db/tenant-table-layout.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { enterTenant } from '../tenancy/enter-tenant.js';
import { EXPORT_FORMAT, MANIFEST_FILE, STABLE_OUTPUT_SETTINGS, type ExportManifest } from './tenant-export.js';

/** Where an export is read from: its directory, or its single file. */
export interface ExportSource {
  kind: 'directory' | 'file';
  path: string;
  manifest: ExportManifest;
}

/** Rows per INSERT, and at most this many characters of JSON per INSERT: bounded memory, few round trips. */
const BATCH_ROWS = 500;
const BATCH_CHARS = 4_000_000;

/** A refused import: the message says what is wrong and what to do; nothing was written. */
export class ImportRefusedError extends Error {
  override name = 'ImportRefusedError';
}

/**
 * Opens `--in`: a directory with manifest.json, or a single-file export (manifest on its first line). Checks the
 * manifest's shape, so a damaged or foreign file is refused before anything touches the database.
 */
export async function openExport(input: string): Promise<ExportSource> {
  const found = await stat(input).catch(() => null);
  if (!found) throw new ImportRefusedError(`--in ${input} does not exist; name the directory or the file a tenant export wrote.`);
  const kind = found.isDirectory() ? 'directory' : 'file';
  const text = kind === 'directory' ? await readFile(path.join(input, MANIFEST_FILE), 'utf8').catch(() => null) : await firstLine(input);
  if (text === null) throw new ImportRefusedError(`--in ${input} has no ${MANIFEST_FILE}; is it a tenant export directory?`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    throw new ImportRefusedError(`--in ${input}: the manifest is not JSON; is it a tenant export?`);
  }
  return { kind, path: input, manifest: checkManifest(manifest, input) };
}

function checkManifest(value: unknown, input: string): ExportManifest {
  const m = value as Partial<ExportManifest> | null;
  const bad = (what: string) =>
    new ImportRefusedError(`--in ${input}: the manifest ${what}; it was not written by \`tenant export\`, or was edited.`);
  if (!m || m.format !== EXPORT_FORMAT) throw bad(`is not a ${EXPORT_FORMAT} manifest`);
  if (m.formatVersion !== 1) throw bad(`has format version ${JSON.stringify(m.formatVersion)}, this version reads 1`);
  if (typeof m.tenantId !== 'string' || !isValidTenantId(m.tenantId)) throw bad('has no valid tenantId');
  if (typeof m.schemaVersion !== 'string') throw bad('has no schemaVersion');
  if (!Array.isArray(m.tables)) throw bad('lists no tables');
  for (const t of m.tables) {
    const ok =
      typeof t?.table === 'string' &&
      typeof t.file === 'string' &&
      path.basename(t.file) === t.file &&
      Number.isSafeInteger(t.rows) &&
      t.rows >= 0 &&
      /^[0-9a-f]{64}$/.test(String(t.sha256));
    if (!ok) throw bad(`has a malformed table entry ${JSON.stringify(t)}`);
  }
  return m as ExportManifest;
}

export interface ImportResult {
  tenantId: string;
  fromTenantId: string;
  tables: { table: string; rows: number }[];
}

/**
 * Imports an export into the database at `ownerUrl`, as the owner (COPY FROM and the app role's INSERT grants do
 * not cover every tenant table), in ONE transaction: all of it or nothing. Ids are kept; the tenant id too, or
 * `tenantId` replaces it in every tenant column. Tables go in parents first, in batches of JSON decoded by the
 * database (`json_populate_recordset`), so values round-trip exactly.
 *
 * Refused (ImportRefusedError, nothing written): another schema version, other tenant tables than the
 * export's, a tenant id that exists, a table file whose rows or checksum differ from the manifest, a key that
 * exists or a reference to a row that does not (e.g. a plan missing from plan_limits).
 *
 * Triggers run as on any insert (foreign keys are checked); values that triggers maintain, such as
 * `conversations.message_count`, are then set back to the exported ones, and finally every table is read back
 * and compared with the manifest's checksums, so what commits is exactly what was exported.
 */
export async function importTenant(
  ownerUrl: string,
  source: ExportSource,
  options: { schemaVersion: string; tenantId?: string; progress: (line: string) => void },
): Promise<ImportResult> {
  const { manifest } = source;
  const fromTenantId = manifest.tenantId;
  const tenantId = options.tenantId ?? fromTenantId;
  if (manifest.schemaVersion !== options.schemaVersion) {
    throw new ImportRefusedError(
      `The export was made at schema version ${manifest.schemaVersion}; this database is at ${options.schemaVersion}. Import it into a database at ${manifest.schemaVersion} (this code's migrations up to it), then migrate.`,
    );
  }
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-tenant-import' });
  try {
    await client.query('begin');
    // SECURITY: the owner bypasses RLS; the tenant context is set anyway, so anything that reads it (column
    // defaults, triggers, an owner that is subject to RLS) sees the imported tenant and no other.
    await enterTenant(client, tenantId);
    // Rows restored as exported are no new realtime events (migrations/0015): the export holds the events it had.
    await client.query("select set_config('app.restoring_tenant', $1, true)", [tenantId]);
    await client.query(STABLE_OUTPUT_SETTINGS);
    const layouts = await listTenantTableLayouts(client);
    const tables = matchTables(layouts, manifest);
    const taken = await client.query('select 1 from tenants where id = $1', [tenantId]);
    if (taken.rowCount) {
      throw new ImportRefusedError(
        `Tenant ${tenantId} already exists in this database. Import into a database without it, choose another id with --tenant-id NEW, or delete it first (tenant delete).`,
      );
    }
    const deleted = await client.query<{ id: string; completed_at: Date }>(
      "select id, completed_at from tenant_deletions where deleted_tenant_id = $1 and status = 'completed' order by completed_at desc limit 1",
      [tenantId],
    );
    if (deleted.rows[0]) {
      // Not refused (a tenant may come back, e.g. from its own export), but an erased tenant must not return unnoticed.
      options.progress(
        `import: warning: tenant ${tenantId} was deleted from this database at ${deleted.rows[0].completed_at.toISOString()} (deletion record ${deleted.rows[0].id}); this import brings its data back`,
      );
    }
    const result: ImportResult = { tenantId, fromTenantId, tables: [] };
    for (const [index, table] of tables.entries()) {
      const rows = await insertTable(client, table, source, index, tenantId);
      options.progress(`import: ${table.qualifiedName} ${rows} rows (${index + 1}/${tables.length} tables)`);
      result.tables.push({ table: table.qualifiedName, rows });
    }
    if (tables.some((t) => t.hasUserTriggers)) {
      for (const [index, table] of tables.entries()) await reapplyTable(client, table, source, index, tenantId);
    }
    for (const [index, table] of tables.entries()) {
      const sha256 = await checksumOf(client, exportLinesQuery(table, tenantId, tenantId === fromTenantId ? undefined : fromTenantId));
      if (sha256 !== manifest.tables[index]!.sha256) {
        throw new Error(
          `After the import, ${table.qualifiedName} does not read back as exported (checksum ${sha256}, the manifest says ${manifest.tables[index]!.sha256}); nothing was written. A trigger or default of this database changes imported rows: report it.`,
        );
      }
    }
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw explained(error);
  } finally {
    await client.end();
  }
}

/** The target's tenant tables in the manifest's order, checked: the same tables, parents before children. */
function matchTables(layouts: TenantTableLayout[], manifest: ExportManifest): TenantTableLayout[] {
  const byName = new Map(layouts.map((t) => [t.qualifiedName, t]));
  const listed = manifest.tables.map((t) => t.table);
  const missing = layouts.filter((t) => !listed.includes(t.qualifiedName)).map((t) => t.qualifiedName);
  const unknown = listed.filter((name) => !byName.has(name));
  if (missing.length || unknown.length || new Set(listed).size !== listed.length) {
    throw new ImportRefusedError(
      `The export's tables do not match this database's tenant tables (missing from the export: ${missing.join(', ') || 'none'}; unknown here: ${unknown.join(', ') || 'none'}). Import into a database at the export's schema version.`,
    );
  }
  const tables = listed.map((name) => byName.get(name)!);
  tables.forEach((table, index) => {
    const late = table.parents.filter((p) => listed.indexOf(p) > index);
    if (late.length) throw new ImportRefusedError(`The export lists ${table.qualifiedName} before its parent ${late.join(', ')}; it was edited.`);
  });
  return tables;
}

/** Inserts one table's rows in batches; checks their count and checksum against the manifest as it reads them. */
async function insertTable(client: pg.Client, table: TenantTableLayout, source: ExportSource, index: number, tenantId: string): Promise<number> {
  const columns = table.columns.filter((c) => !c.generated);
  const names = columns.map((c) => ident(c.name)).join(', ');
  const values = columns.map((c) => (c.name === table.tenantColumn ? '$2::bigint' : `j.${ident(c.name)}`)).join(', ');
  const statement = `insert into ${table.qualifiedName} (${names}) overriding system value select ${values} from json_populate_recordset(null::${table.qualifiedName}, $1::json) j`;
  return forEachBatch(source, index, async (json) => {
    await client.query(statement, [json, tenantId]);
  });
}

/**
 * Sets every non-key column back to the exported value where a trigger changed it (an insert into messages
 * counts up its conversation's message_count, which the export already holds).
 */
async function reapplyTable(client: pg.Client, table: TenantTableLayout, source: ExportSource, index: number, tenantId: string): Promise<void> {
  const key = table.primaryKey;
  const rest = table.columns.filter((c) => !c.generated && !key.includes(c.name)).map((c) => ident(c.name));
  if (!key.length || !rest.length) return;
  const match = key.map((k) => `t.${ident(k)} = ${k === table.tenantColumn ? '$2::bigint' : `j.${ident(k)}`}`).join(' and ');
  const statement =
    `update ${table.qualifiedName} t set (${rest.join(', ')}) = row(${rest.map((c) => `j.${c}`).join(', ')})` +
    ` from json_populate_recordset(null::${table.qualifiedName}, $1::json) j` +
    ` where ${match} and to_jsonb(row(${rest.map((c) => `t.${c}`).join(', ')})) is distinct from to_jsonb(row(${rest.map((c) => `j.${c}`).join(', ')}))`;
  await forEachBatch(source, index, async (json) => {
    await client.query(statement, [json, tenantId]);
  });
}

/** sha256 of a statement's `line`s, each followed by `\n`, read through a cursor (bounded memory). */
async function checksumOf(client: pg.Client, query: string): Promise<string> {
  const hash = createHash('sha256');
  await client.query(`declare tenant_import_check no scroll cursor for ${query}`);
  for (;;) {
    const { rows } = await client.query<{ line: string }>(`fetch forward ${BATCH_ROWS} from tenant_import_check`);
    if (!rows.length) break;
    for (const { line } of rows) hash.update(`${line}\n`);
  }
  await client.query('close tenant_import_check');
  return hash.digest('hex');
}

/**
 * Calls `work` with the table's rows as JSON arrays of at most BATCH_ROWS rows and BATCH_CHARS characters, and
 * checks the lines read against the manifest's row count and checksum. Returns the row count.
 */
async function forEachBatch(source: ExportSource, index: number, work: (json: string) => Promise<void>): Promise<number> {
  const entry = source.manifest.tables[index]!;
  const hash = createHash('sha256');
  let rows = 0;
  let batch: string[] = [];
  let chars = 0;
  const flush = async () => {
    if (!batch.length) return;
    const json = `[${batch.join(',')}]`;
    batch = [];
    chars = 0;
    await work(json);
  };
  for await (const line of tableLines(source, index)) {
    hash.update(`${line}\n`);
    rows++;
    batch.push(line);
    chars += line.length + 1;
    if (batch.length >= BATCH_ROWS || chars >= BATCH_CHARS) await flush();
  }
  await flush();
  const sha256 = hash.digest('hex');
  if (rows !== entry.rows || sha256 !== entry.sha256) {
    throw new ImportRefusedError(
      `${entry.table}: the export holds ${rows} rows with checksum ${sha256}, its manifest says ${entry.rows} rows with ${entry.sha256}. The export is damaged or was edited; export the tenant again.`,
    );
  }
  return rows;
}

/** The lines of table `index`: its file in a directory export; its stretch of the single file after the manifest line. */
async function* tableLines(source: ExportSource, index: number): AsyncGenerator<string> {
  const entry = source.manifest.tables[index]!;
  const file = source.kind === 'directory' ? path.join(source.path, entry.file) : source.path;
  let skip = source.kind === 'directory' ? 0 : 1 + source.manifest.tables.slice(0, index).reduce((sum, t) => sum + t.rows, 0);
  let left = source.kind === 'directory' ? Number.POSITIVE_INFINITY : entry.rows;
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (skip > 0) {
        skip--;
        continue;
      }
      if (left-- <= 0) break;
      yield line;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

async function firstLine(file: string): Promise<string | null> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) return line;
    return null;
  } finally {
    lines.close();
    stream.destroy();
  }
}

/** Unique and foreign-key violations say which rows conflict and what to do; everything else passes unchanged. */
function explained(error: unknown): unknown {
  const e = error as { code?: string; table?: string; detail?: string; constraint?: string };
  if (e.code === '23505') {
    return new ImportRefusedError(
      `A row of ${e.table ?? 'a tenant table'} already exists in this database (${e.detail ?? e.constraint}); nothing was written. Import into a database without these rows, or under another tenant id (--tenant-id NEW).`,
    );
  }
  if (e.code === '23503') {
    return new ImportRefusedError(
      `A row of ${e.table ?? 'a tenant table'} refers to a row that is neither in the export nor in this database (${e.detail ?? e.constraint}); nothing was written. Shared reference data (such as plan_limits) must exist in the target first.`,
    );
  }
  return error;
}
