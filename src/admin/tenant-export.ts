import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import { exportLinesQuery, type TenantTableLayout } from '../db/tenant-table-layout.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';

/** The manifest of a tenant export: `manifest.json` of a directory, or the first line of a single-file export. */
export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  formatVersion: 1;
  /** The exported tenant's id (decimal string). */
  tenantId: string;
  /** The last migration of the exporting database: an import needs a database at the same version. */
  schemaVersion: string;
  exportedAt: string;
  /** Parents before children: the order an import inserts in. */
  tables: ExportedTable[];
}

export interface ExportedTable {
  /** `schema.table` as the catalog names it (listTenantTables). */
  table: string;
  /** Its NDJSON file in a directory export. */
  file: string;
  rows: number;
  /** sha256 (hex) of the table's lines, each followed by `\n`: the file's bytes in a directory export. */
  sha256: string;
}

export const EXPORT_FORMAT = 'tenantgraph-tenant-export';
export const MANIFEST_FILE = 'manifest.json';

/**
 * Session settings that make `row_to_json` print every value the same way in every database (timestamps in UTC,
 * intervals, bytea, floats), so the same rows give the same bytes and checksums. Transaction-local.
 */
export const STABLE_OUTPUT_SETTINGS = `select set_config('TimeZone', 'UTC', true), set_config('IntervalStyle', 'postgres', true),
  set_config('bytea_output', 'hex', true), set_config('extra_float_digits', '1', true)`;

/** Rows per FETCH: at most this many rows (a message is at most 10 000 characters) are in memory at once. */
const FETCH_ROWS = 500;
/** A progress line on stderr every this many rows of one table (and when a table is done). */
const PROGRESS_EVERY = 50_000;

/** Where an export goes: a directory (one file per table plus manifest.json) or one file (manifest line, then the rows). */
export type ExportTarget = { kind: 'directory'; path: string } | { kind: 'file'; path: string };

/**
 * Chooses the kind of `--out`: an existing directory, or a path ending in `/`, is a directory export (which must
 * be empty, so that no stale table file sits beside the new manifest); anything else is a single file, which must
 * not exist yet. Throws with what to do otherwise.
 */
export async function resolveExportTarget(out: string): Promise<ExportTarget> {
  const existing = await stat(out).catch(() => null);
  if (existing?.isDirectory() || (!existing && /[\\/]$/.test(out))) {
    if (existing && (await readdir(out)).length) throw new Error(`--out ${out} is a directory that is not empty; name a new or empty directory.`);
    return { kind: 'directory', path: out };
  }
  if (existing) throw new Error(`--out ${out} exists; the export never overwrites a file. Name a new file, or a directory (ending in /).`);
  return { kind: 'file', path: out };
}

/**
 * Writes every row of the transaction's tenant from every table of `tables` to `target`, and returns the manifest.
 *
 * SECURITY: `tx` is a tenant transaction of the app role (src/cli/tenant-session.ts), so Row Level Security decides
 * which rows the statements see: an export cannot contain another tenant's row whatever the statements say. The
 * explicit tenant filter only lets the tenant's index be used. Each table is read through a server-side cursor,
 * FETCH_ROWS rows at a time, and written with backpressure, so memory stays bounded whatever the tenant's size.
 * The transaction should be REPEATABLE READ: all tables then come from one snapshot, and children never refer
 * to a parent the export missed.
 */
export async function exportTenant(
  tx: TenantTransaction,
  input: { tenantId: string; tables: readonly TenantTableLayout[]; schemaVersion: string; target: ExportTarget; progress: (line: string) => void },
): Promise<ExportManifest> {
  const { tenantId, tables, target, progress } = input;
  const { rows: context } = await sql<{ tenant: string }>`select app.current_tenant_id()::text as tenant`.execute(tx);
  if (context[0]?.tenant !== tenantId) {
    throw new TypeError(`exportTenant expected a transaction of tenant ${tenantId}, received one of tenant ${context[0]?.tenant ?? 'none'}`);
  }
  await sql.raw(STABLE_OUTPUT_SETTINGS).execute(tx);
  const exportedAt = new Date().toISOString();
  const bodyPath = target.kind === 'file' ? `${target.path}.${randomUUID()}.rows` : null;
  if (target.kind === 'directory') await mkdir(target.path, { recursive: true });
  const exported: ExportedTable[] = [];
  const body = bodyPath ? createWriteStream(bodyPath, { flags: 'wx' }) : null;
  try {
    for (const [index, table] of tables.entries()) {
      const file = tableFileName(table, index);
      const out = body ?? createWriteStream(path.join(target.path, file), { flags: 'wx' });
      const hash = createHash('sha256');
      let rows = 0;
      await sql.raw(`declare tenant_export no scroll cursor for ${exportLinesQuery(table, tenantId)}`).execute(tx);
      for (;;) {
        const { rows: batch } = await sql.raw<{ line: string }>(`fetch forward ${FETCH_ROWS} from tenant_export`).execute(tx);
        if (!batch.length) break;
        let chunk = '';
        for (const { line } of batch) chunk += `${line}\n`;
        hash.update(chunk);
        await write(out, chunk);
        const before = rows;
        rows += batch.length;
        if (Math.floor(rows / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) progress(`export: ${table.qualifiedName} ${rows} rows…`);
      }
      await sql.raw('close tenant_export').execute(tx);
      if (!body) await close(out);
      progress(`export: ${table.qualifiedName} ${rows} rows (${index + 1}/${tables.length} tables)`);
      exported.push({ table: table.qualifiedName, file, rows, sha256: hash.digest('hex') });
    }
    const manifest: ExportManifest = {
      format: EXPORT_FORMAT,
      formatVersion: 1,
      tenantId,
      schemaVersion: input.schemaVersion,
      exportedAt,
      tables: exported,
    };
    if (target.kind === 'directory') {
      const manifestOut = createWriteStream(path.join(target.path, MANIFEST_FILE), { flags: 'wx' });
      await write(manifestOut, `${JSON.stringify(manifest, null, 2)}\n`);
      await close(manifestOut);
    } else {
      await close(body!);
      // The manifest goes first, so an import knows every table's row count before it reads a row; the file
      // appears under its name only once it is complete.
      const partial = `${target.path}.${randomUUID()}.partial`;
      const out = createWriteStream(partial, { flags: 'wx' });
      await write(out, `${JSON.stringify(manifest)}\n`);
      await pipeline(createReadStream(bodyPath!), out);
      await rename(partial, target.path);
    }
    return manifest;
  } finally {
    body?.destroy();
    if (bodyPath) await rm(bodyPath, { force: true });
  }
}

/** `public.messages.ndjson`; a name with other characters than letters, digits and `_` gets a numbered file instead. */
function tableFileName(table: TenantTableLayout, index: number): string {
  const plain = /^[A-Za-z0-9_]+$/;
  return plain.test(table.schema) && plain.test(table.table) ? `${table.schema}.${table.table}.ndjson` : `table-${index + 1}.ndjson`;
}

async function write(stream: WriteStream, chunk: string): Promise<void> {
  // events.once rejects when the stream emits 'error' while we wait.
  if (!stream.write(chunk)) await once(stream, 'drain');
}

function close(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}
