import type pg from 'pg';
import { listTenantTables } from '../../src/db/tenant-catalog.js';
import type { LeakDetector } from './leak-detector.js';
import { fail } from './page-checks.js';
import type { TenantModel } from './tenant-model.js';

/**
 * The database as the owner sees it (a superuser: no RLS applies) is the ground truth. After every wave, the rows
 * of the run's tenants must be exactly the model: a write that landed in another tenant, or a rejected operation
 * that wrote anyway, shows up here even if no API read would reveal it. Audit events are written off the request
 * path, so for them only the placement is checked: every event of a request of tenant X is in tenant X.
 */
export async function verifyDatabase(owner: pg.Client, tenants: readonly TenantModel[], leaks: LeakDetector): Promise<void> {
  await verifyPlacementInEveryTenantTable(owner, tenants, leaks);
  const ids = tenants.map((t) => t.tenantId);
  const rows = async (sql: string, params: unknown[] = [ids]) =>
    (await owner.query<Record<string, unknown>>(sql, params)).rows.map((row) => JSON.stringify(Object.values(row))).sort();

  // One client runs one query at a time: sequential awaits.
  const users = await rows('select tenant_id::text, id::text, email, display_name, role::text from users where tenant_id = any($1::bigint[])');
  const conversations = await rows(
    `select tenant_id::text, id::text, title, archived, message_count, created_by::text
         from conversations where tenant_id = any($1::bigint[])`,
  );
  const messages = await rows(
    `select tenant_id::text, id::text, conversation_id::text, author_id::text, body
         from messages where tenant_id = any($1::bigint[])`,
  );
  const local = (tenant: TenantModel, globalId: string) =>
    [...tenant.users, ...tenant.conversations].find((e) => e.id === globalId)?.localId ?? `unknown ${globalId}`;
  const expect = (values: unknown[][]) => values.map((value) => JSON.stringify(value)).sort();
  compare('users', users, expect(tenants.flatMap((t) => t.users.map((u) => [t.tenantId, u.localId, u.email, u.displayName, u.role]))));
  compare(
    'conversations',
    conversations,
    expect(
      tenants.flatMap((t) => t.conversations.map((c) => [t.tenantId, c.localId, c.title, c.archived, c.messages.length, local(t, c.createdById)])),
    ),
  );
  compare(
    'messages',
    messages,
    expect(
      tenants.flatMap((t) => t.conversations.flatMap((c) => c.messages.map((m) => [t.tenantId, m.localId, c.localId, local(t, m.authorId), m.body]))),
    ),
  );

  const markers = new Map(tenants.map((t) => [t.tenantId, t.marker]));
  const audit = await owner.query<{ tenant_id: string; request_id: string }>(
    'select tenant_id::text, request_id from audit_events where request_id like any($1::text[])',
    [tenants.map((t) => `${t.marker}-%`)],
  );
  const misplaced = audit.rows.filter((row) => !row.request_id.startsWith(`${markers.get(row.tenant_id) ?? 'none'}-`));
  if (misplaced.length > 0) fail("audit_events: events of one tenant's requests were written into another tenant", misplaced);
}

/**
 * Every tenant table the catalog lists (listTenantTables — so a table a module adds is checked with nothing to
 * write here): no row of one of the run's tenants holds evidence of another (its marker, a row id or tenant id the
 * leak detector knows as theirs). The exact comparisons above cover the tables the model knows; this one covers
 * every table, including those the model does not describe.
 */
export async function verifyPlacementInEveryTenantTable(
  owner: pg.Client,
  tenants: readonly Pick<TenantModel, 'tenantId' | 'marker'>[],
  leaks: LeakDetector,
): Promise<void> {
  const markerOf = new Map(tenants.map((t) => [t.tenantId, t.marker.toLowerCase()]));
  for (const table of await listTenantTables(owner)) {
    const { rows } = await owner.query<Record<string, unknown>>(
      `select ${table.tenantColumn}::text as tenant_of_row, to_jsonb(t)::text as row from ${table.qualifiedName} t where ${table.tenantColumn} = any($1::bigint[])`,
      [[...markerOf.keys()]],
    );
    const strays = rows.flatMap((row) => {
      const own = markerOf.get(String(row.tenant_of_row));
      const foreign = [...leaks.evidence(String(row.row))].filter(([, marker]) => marker !== own);
      return foreign.length ? [{ row: row.row, foreign: foreign.map(([token, marker]) => `${token} of ${marker}`) }] : [];
    });
    if (strays.length > 0) fail(`database: rows of ${table.qualifiedName} hold another tenant's data`, strays);
  }
}

function compare(table: string, actual: string[], expected: string[]): void {
  const expectedSet = new Set(expected);
  const actualSet = new Set(actual);
  const unexpected = actual.filter((row) => !expectedSet.has(row));
  const missing = expected.filter((row) => !actualSet.has(row));
  if (unexpected.length > 0 || missing.length > 0 || actual.length !== expected.length) {
    fail(`database: ${table} of the run's tenants differ from the model`, { unexpected, missing });
  }
}
