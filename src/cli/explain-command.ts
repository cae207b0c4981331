import { parseArgs } from 'node:util';
import { CompiledQuery, sql } from 'kysely';
import type { Env } from '../config/env.js';
import { DEFAULT_PAGE_SIZE } from '../graphql/connection.js';
import type { Cursor } from '../graphql/cursor.js';
import { listConversations } from '../modules/conversations/queries.js';
import { listMessagesByConversations } from '../modules/messages/queries.js';
import { listUsers } from '../modules/directory/queries.js';
import { forward, NO_CURSOR, NO_ID, type AccessPath, type AccessPathSample as Sample } from '../modules/access-path.js';
import { listTenantTables } from '../db/tenant-catalog.js';
import { ACCESS_PATHS } from '../modules/index.js';
import type { TenantTransaction } from '../tenancy/tenant-transaction.js';
import type { CliCommand } from './cli-context.js';
import { summarizePlan, type ExplainResult, type PlanSummary } from './plan-summary.js';
import { audited, beginOperatorTransaction, requireTenantId, startOperatorSession, withAppSession, type AppSession } from './tenant-session.js';
import { formatTable } from './text-table.js';

interface ExplainOptions {
  tenantId: string;
  json: boolean;
  /**
   * `--no-seqscan`: plan with enable_seqscan off, so a table too small for the planner to prefer an index (a new
   * module's, before it has data) still shows which index each path can use — and a path no index matches still
   * shows its Seq Scan.
   */
  noSeqscan: boolean;
}

// ANALYZE runs each statement to the end; a slow path should show its plan rather than hit the API's timeout.
const EXPLAIN_STATEMENT_TIMEOUT_MS = 60_000;

/**
 * `explain --tenant TENANT_ID [--json]`: runs every access path of the API in that tenant's context, as the app
 * role, under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`, with ids and cursors sampled from the tenant's rows, and
 * prints per path the scans, whether each tenant table was reached through a tenant-led index with the tenant
 * predicate as Index Cond, the execution time and the shared buffers hit and read. A table by default; with
 * `--json` one JSON object per path (NDJSON).
 *
 * SECURITY: the statements are the API's own (compiled from src/modules/*\/queries.ts), under the same RLS;
 * reads run in a READ ONLY transaction, writes in one that is always rolled back. Like any context switch, the
 * run leaves one audit event in the tenant's trail (operation name 'explain').
 */
export const explainCommand: CliCommand<ExplainOptions> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: { tenant: { type: 'string' }, json: { type: 'boolean', default: false }, 'no-seqscan': { type: 'boolean', default: false } },
    });
    return { tenantId: requireTenantId('explain', values.tenant), json: values.json, noSeqscan: values['no-seqscan'] };
  },

  async run({ tenantId, json, noSeqscan }, env, io) {
    // Its event says 'rolled_back': nothing explain does is committed.
    const session = startOperatorSession(tenantId, 'explain');
    const results = await withAppSession(env, io, session, (app) =>
      audited(app, session, io, 'rolled_back', () => explainAll(app, tenantId, env, noSeqscan)),
    );
    if (json) {
      for (const result of results) io.out(JSON.stringify(result));
      return;
    }
    const yesNo = (value: boolean | null) => (value === null ? '-' : value ? 'yes' : 'NO');
    const lines = formatTable(
      ['path', 'scans', 'tenant index', 'tenant in Index Cond', 'ms', 'rows', 'hit', 'read'],
      results.map((r) => [
        r.path,
        r.scans.map((scan) => (scan.relation ? `${scan.nodeType} on ${scan.relation}` : scan.nodeType)).join(', ') || '(none)',
        yesNo(r.tenantIndexUsed),
        yesNo(r.tenantPredicateInIndexCond),
        r.executionMs === null ? '' : r.executionMs.toFixed(3),
        String(r.rows ?? ''),
        String(r.buffers.hit),
        String(r.buffers.read),
      ]),
      [false, false, false, false, true, true, true, true],
    );
    for (const line of lines) io.out(line);
  },
};

type PathResult = { path: string; write: boolean } & PlanSummary;

async function explainAll(app: AppSession, tenantId: string, env: Env, noSeqscan: boolean): Promise<PathResult[]> {
  const planWith = async (tx: TenantTransaction) => {
    if (noSeqscan) await sql`set local enable_seqscan = off`.execute(tx);
    return tx;
  };
  const mode = (readOnly: boolean) => ({
    readOnly,
    statementTimeoutMs: Math.max(env.DB_STATEMENT_TIMEOUT_MS, EXPLAIN_STATEMENT_TIMEOUT_MS),
    idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  const results: PathResult[] = [];
  let sample: Sample;
  let leadingColumns: Map<string, string>;
  const reads = await planWith(await beginOperatorTransaction(app, tenantId, mode(true)));
  try {
    sample = await sampleTenant(reads);
    leadingColumns = await indexLeadingColumns(reads);
    for (const path of ACCESS_PATHS.filter((p) => !p.write)) results.push(await explainPath(reads, path, sample, leadingColumns));
  } finally {
    await reads
      .rollback()
      .execute()
      .catch(() => {});
  }
  // SECURITY: EXPLAIN ANALYZE executes the statement: the writes run in a transaction of their own that is
  // rolled back whatever happens, so nothing they do (the message, its counter update) is ever committed.
  const writes = await planWith(await beginOperatorTransaction(app, tenantId, mode(false)));
  try {
    for (const path of ACCESS_PATHS.filter((p) => p.write)) results.push(await explainPath(writes, path, sample, leadingColumns));
  } finally {
    await writes
      .rollback()
      .execute()
      .catch(() => {});
  }
  return results;
}

async function explainPath(
  tx: TenantTransaction,
  path: AccessPath,
  sample: Sample,
  leadingColumns: ReadonlyMap<string, string>,
): Promise<PathResult> {
  const statement = path.query(tx, sample).compile();
  const { rows } = await tx.executeQuery<{ 'QUERY PLAN': ExplainResult[] }>(
    CompiledQuery.raw(`explain (analyze, buffers, format json) ${statement.sql}`, [...statement.parameters]),
  );
  return { path: path.name, write: path.write ?? false, ...summarizePlan(rows[0]!['QUERY PLAN'][0]!, leadingColumns) };
}

/** Reads the values the paths need through the API's own queries, in the same tenant context. */
async function sampleTenant(tx: TenantTransaction): Promise<Sample> {
  const conversations = await listConversations(tx, {}, forward(null));
  const users = await listUsers(tx, forward(null));
  const conversationIds = conversations.slice(0, DEFAULT_PAGE_SIZE).map((row) => row.id);
  const messages = conversationIds.length ? await listMessagesByConversations(tx, conversationIds, forward(null)) : [];
  const firstThread = messages.filter((row) => row.conversation_id === conversationIds[0]);
  const cursorOf = (rows: { created_at: string; id: string }[]): Cursor => {
    const row = rows[Math.min(DEFAULT_PAGE_SIZE, rows.length) - 1];
    return row ? { createdAt: row.created_at, id: row.id } : NO_CURSOR;
  };
  const first = conversations[0];
  const idsByTable = await sampleIdsOfEveryTenantTable(tx);
  return {
    conversationIds: conversationIds.length ? conversationIds : [NO_ID],
    conversationCursor: cursorOf(conversations),
    // A word of a real title, so the ILIKE filter matches something as a user's search would.
    titleWord: first?.title.split(/\s+/).find((word) => word.length >= 3) ?? first?.title ?? 'a',
    conversation: first ? { id: first.id, archived: first.archived } : { id: NO_ID, archived: false },
    userIds: users.length ? users.slice(0, DEFAULT_PAGE_SIZE).map((row) => row.id) : [NO_ID],
    authorId: users[0]?.id ?? NO_ID,
    messageIds: messages.length ? messages.slice(0, DEFAULT_PAGE_SIZE).map((row) => row.id) : [NO_ID],
    messageCursor: cursorOf(firstThread),
    idsOf: (table) => {
      const ids = idsByTable.get(table);
      if (!ids) throw new Error(`idsOf(${JSON.stringify(table)}): no tenant table of that name with an id column`);
      return ids.length ? ids : [NO_ID];
    },
  };
}

/** table -> up to a page of ids of the tenant's own rows (under its RLS), for every tenant table with an `id` column. */
async function sampleIdsOfEveryTenantTable(tx: TenantTransaction): Promise<Map<string, string[]>> {
  const { rows: withId } = await sql<{ table: string; name: string }>`
    select c.relname as table, format('%I.%I', n.nspname, c.relname) as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'id' and not a.attisdropped
     where c.oid = any(${(await listTenantTables(tx)).map((t) => t.qualifiedName)}::regclass[])`.execute(tx);
  const ids = new Map<string, string[]>();
  for (const { table, name } of withId) {
    const { rows } = await sql<{ id: string }>`select id::text from ${sql.raw(name)} limit ${DEFAULT_PAGE_SIZE}`.execute(tx);
    ids.set(
      table,
      rows.map((row) => row.id),
    );
  }
  return ids;
}

/** index name -> its first column, for the indexes this connection can see (pg_catalog is readable by any role). */
async function indexLeadingColumns(tx: TenantTransaction): Promise<Map<string, string>> {
  const { rows } = await sql<{ index: string; column: string }>`
    select c.relname as index, a.attname as column
      from pg_index i
      join pg_class c on c.oid = i.indexrelid
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
     where pg_table_is_visible(i.indrelid)`.execute(tx);
  return new Map(rows.map((row) => [row.index, row.column]));
}
