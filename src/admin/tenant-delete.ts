import { createHash } from 'node:crypto';
import type pg from 'pg';
import { connectClient } from '../db/guarded-client.js';
import { ident, listTenantReferences, listTenantTableLayouts } from '../db/tenant-table-layout.js';
import { isValidTenantId } from '../ids/entity-ids.js';
import { enterTenant } from '../tenancy/enter-tenant.js';

/** Rows of one tenant per table, `{"public.messages": 120, …}`. */
export type RowCounts = Record<string, number>;

/** A row of tenant_deletions (migrations/0014): the proof of one deletion. */
export interface DeletionRecord {
  id: string;
  deletedTenantId: string;
  nameSha256: string;
  status: 'pending' | 'completed';
  rowsBefore: RowCounts;
  rowsAfter: RowCounts | null;
  operator: string;
  databaseRole: string;
  startedAt: string;
  completedAt: string | null;
  attempts: number;
}

export interface DeleteTenantInput {
  tenantId: string;
  /** The tenant's name, exactly: the operator's confirmation that this is the tenant meant. */
  confirmName: string;
  dryRun: boolean;
  operator: string;
}

export type DeleteTenantResult =
  | { kind: 'dry-run'; tenantId: string; rows: RowCounts }
  | { kind: 'deleted'; record: DeletionRecord }
  | { kind: 'already-deleted'; record: DeletionRecord };

/** A refused deletion (no such tenant, wrong confirmation): nothing changed. */
export class DeletionRefusedError extends Error {
  override name = 'DeletionRefusedError';
}

/** The application_name of the deleting connection (pg_stat_activity shows a deletion in progress). */
export const DELETE_APPLICATION_NAME = 'tenantgraph-tenant-delete';

/** One table that holds rows of a tenant, and the column that says which tenant. */
interface TenantHolder {
  qualifiedName: string;
  column: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Deletes every row of a tenant, verifies that none is left, and keeps the proof in tenant_deletions.
 *
 * 1. The tables come from the catalog: every tenant table (listTenantTableLayouts, parents first) and every other
 *    table whose foreign key refers to `tenants` (listTenantReferences); deletion walks them children first.
 * 2. A 'pending' deletion record with the row counts is committed first. Then ONE transaction locks the tenant's
 *    row (FOR UPDATE conflicts with the FOR KEY SHARE lock every insert's foreign key to `tenants` takes, so the
 *    tenant's in-flight writes finish first and new ones wait, then fail), deletes table by table and commits: the
 *    tenant's data goes all at once, and the tenant's tokens stop working at that commit (the prologue's
 *    membership check finds no user).
 * 3. Then, as the owner (who sees every tenant's rows), it counts the tenant's rows in every table with a
 *    `tenant_id` column (and every table referring to `tenants`), freshly listed from the catalog, and marks the
 *    record 'completed' with those counts, all zero; any row left fails the command and leaves the record pending.
 *
 * A run killed at any point leaves either the data and a pending record (the delete transaction rolled back) or
 * no data and a pending record (killed before step 3): the next run with the same confirmation completes it; once
 * the tenant row is gone the confirmation is checked against the record's name hash. Idempotent: a tenant
 * already deleted returns its completed record.
 *
 * A dry run only counts. Throws DeletionRefusedError when there is nothing to delete or the name does not match.
 */
export async function deleteTenant(ownerUrl: string, input: DeleteTenantInput, progress: (line: string) => void): Promise<DeleteTenantResult> {
  const { tenantId } = input;
  if (!isValidTenantId(tenantId)) throw new TypeError(`deleteTenant expected a decimal tenant id, received ${JSON.stringify(tenantId)}`);
  const client = await connectClient({ connectionString: ownerUrl, application_name: DELETE_APPLICATION_NAME });
  try {
    const tenant = (await client.query<{ name: string }>('select name from tenants where id = $1', [tenantId])).rows[0];
    const pending = await findRecord(client, tenantId, 'pending');
    if (tenant) {
      if (tenant.name !== input.confirmName) {
        throw new DeletionRefusedError(`--confirm does not match the name of tenant ${tenantId}; pass its name exactly (case and spaces included).`);
      }
    } else if (pending) {
      if (pending.nameSha256 !== sha256Hex(input.confirmName)) {
        throw new DeletionRefusedError(
          `--confirm does not match the name of tenant ${tenantId}, whose unfinished deletion is recorded (${pending.id}).`,
        );
      }
    } else {
      const done = await findRecord(client, tenantId, 'completed');
      if (done && done.nameSha256 === sha256Hex(input.confirmName)) return { kind: 'already-deleted', record: done };
      throw new DeletionRefusedError(
        `No tenant ${tenantId} in this database${done ? ' (a tenant of this id was deleted, under another name)' : ''}.`,
      );
    }

    const holders = await listHolders(client);
    const before = await countRows(client, holders, tenantId);
    if (input.dryRun) return { kind: 'dry-run', tenantId, rows: before };

    let recordId: string;
    if (pending) {
      recordId = pending.id;
      // The counts of a run that was killed before its delete committed are the same rows; a run killed after
      // it counts zeros now, and keeps the counts the first run recorded.
      await client.query(
        `update tenant_deletions set attempts = attempts + 1, operator = $2,
                rows_before = case when $3::boolean then $4::jsonb else rows_before end
          where id = $1`,
        [recordId, input.operator, Boolean(tenant), JSON.stringify(before)],
      );
      progress(`delete: resuming the unfinished deletion ${recordId} of tenant ${tenantId}`);
    } else {
      const inserted = await client
        .query<{ id: string }>(
          'insert into tenant_deletions (deleted_tenant_id, name_sha256, rows_before, operator) values ($1, $2, $3, $4) returning id',
          [tenantId, sha256Hex(input.confirmName), JSON.stringify(before), input.operator],
        )
        .catch((error: unknown) => {
          // tenant_deletions_pending_key: at most one unfinished deletion per tenant.
          if ((error as { code?: string }).code === '23505') {
            throw new DeletionRefusedError(
              `Another deletion of tenant ${tenantId} started just now; let it finish, or run this command again to complete it.`,
            );
          }
          throw error;
        });
      recordId = inserted.rows[0]!.id;
      progress(`delete: deletion ${recordId} of tenant ${tenantId} recorded as pending`);
    }

    if (tenant) await deleteRows(client, holders, tenantId, recordId, progress);

    // Verification: a fresh look at the catalog (a table added since the count is covered too), as the owner.
    const after = await countRows(client, await listHolders(client), tenantId);
    const left = Object.entries(after).filter(([, rows]) => rows > 0);
    if (left.length) {
      throw new Error(
        `Tenant ${tenantId} still has rows after the deletion: ${left.map(([table, rows]) => `${table} ${rows}`).join(', ')}. The deletion record ${recordId} stays pending; run the command again.`,
      );
    }
    const { rows } = await client.query(
      `update tenant_deletions set status = 'completed', rows_after = $2, completed_at = now() where id = $1 returning ${RECORD_COLUMNS}`,
      [recordId, JSON.stringify(after)],
    );
    return { kind: 'deleted', record: toRecord(rows[0]) };
  } finally {
    await client.end();
  }
}

/**
 * The one transaction that deletes the tenant's rows, children first, the tenant row last. Once the tenant row is
 * locked no row of the tenant can be added, so the counts taken then are exactly what it deletes: they replace
 * the record's earlier counts in the same transaction.
 */
async function deleteRows(
  client: pg.Client,
  holders: TenantHolder[],
  tenantId: string,
  recordId: string,
  progress: (line: string) => void,
): Promise<void> {
  try {
    await client.query('begin');
    // SECURITY: the owner bypasses RLS, so every statement filters by the tenant column itself; the tenant
    // context is set as well, for an owner that RLS does apply to (it then sees this tenant only).
    await enterTenant(client, tenantId);
    await client.query('select 1 from tenants where id = $1 for update', [tenantId]);
    const locked = await countRows(client, holders, tenantId);
    await client.query('update tenant_deletions set rows_before = $2 where id = $1', [recordId, JSON.stringify(locked)]);
    for (const holder of [...holders].reverse()) {
      const { rowCount } = await client.query(`delete from ${holder.qualifiedName} where ${ident(holder.column)} = $1`, [tenantId]);
      progress(`delete: ${holder.qualifiedName} ${rowCount ?? 0} rows`);
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  }
}

/**
 * Every table that can hold a row of a tenant, parents first: the tenant tables (tenants first), then the
 * other tables that refer to `tenants`, which are children of it.
 */
async function listHolders(client: pg.Client): Promise<TenantHolder[]> {
  const tables = (await listTenantTableLayouts(client)).map((t) => ({ qualifiedName: t.qualifiedName, column: t.tenantColumn }));
  const references = (await listTenantReferences(client)).map((r) => ({ qualifiedName: r.qualifiedName, column: r.column }));
  return [...tables, ...references];
}

async function countRows(client: pg.Client, holders: TenantHolder[], tenantId: string): Promise<RowCounts> {
  const counts: RowCounts = {};
  for (const holder of holders) {
    const { rows } = await client.query<{ count: string }>(`select count(*) from ${holder.qualifiedName} where ${ident(holder.column)} = $1`, [
      tenantId,
    ]);
    counts[holder.qualifiedName] = (counts[holder.qualifiedName] ?? 0) + Number(rows[0]!.count);
  }
  return counts;
}

const RECORD_COLUMNS = `id, deleted_tenant_id::text, name_sha256, status, rows_before, rows_after, operator, database_role,
  started_at, completed_at, attempts`;

async function findRecord(client: pg.Client, tenantId: string, status: 'pending' | 'completed'): Promise<DeletionRecord | null> {
  const { rows } = await client.query(
    `select ${RECORD_COLUMNS} from tenant_deletions where deleted_tenant_id = $1 and status = $2 order by started_at desc limit 1`,
    [tenantId, status],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

function toRecord(row: any): DeletionRecord {
  const iso = (value: unknown) => (value === null ? null : new Date(value as string).toISOString());
  return {
    id: row.id,
    deletedTenantId: row.deleted_tenant_id,
    nameSha256: row.name_sha256,
    status: row.status,
    rowsBefore: row.rows_before,
    rowsAfter: row.rows_after,
    operator: row.operator,
    databaseRole: row.database_role,
    startedAt: iso(row.started_at)!,
    completedAt: iso(row.completed_at),
    attempts: row.attempts,
  };
}
