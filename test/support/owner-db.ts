import pg from 'pg';
import { inject } from 'vitest';
import { listTenantTables } from '../../src/db/tenant-catalog.js';

/**
 * A connection as the owner role. In tests the owner is a superuser, so Row Level Security does not apply to
 * it: it sees every tenant's rows, which makes it the ground truth that API responses are checked against.
 */
export async function withOwnerClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('ownerUrl'), application_name: 'tenantgraph-test-owner' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A connection as the app role (non-owner, NOBYPASSRLS): what the server runs as. */
export async function withAppClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('appUrl'), application_name: 'tenantgraph-test-app' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export type Row = Record<string, unknown>;

/** Every row of some tenants, per tenant table (`public.messages`, …), in a stable order. */
export type TenantRows = Record<string, Row[]>;

/**
 * Not compared: the audit trail grows with every request by design (each tenant context switch is an event,
 * written asynchronously off the request path), so a before/after comparison of a tenant that made requests
 * would see it change. Its own isolation is proved in test/integration/audit.test.ts.
 */
const GROWS_WITH_EVERY_REQUEST = new Set(['public.audit_events']);

/**
 * Reads every row of the given tenants from every tenant table the catalog lists (listTenantTables, so a new
 * tenant table is covered without touching this file), through the owner connection; equal snapshots mean
 * nothing was written or changed. Only these tenants: test files run concurrently against one database, so rows
 * of other files' tenants come and go.
 */
export function snapshotTenants(tenantIds: readonly string[]): Promise<TenantRows> {
  return withOwnerClient(async (client) => {
    const snapshot: TenantRows = {};
    for (const table of await listTenantTables(client)) {
      if (GROWS_WITH_EVERY_REQUEST.has(table.qualifiedName)) continue;
      const column = client.escapeIdentifier(table.tenantColumn);
      const { rows } = await client.query<{ row: Row }>(
        `select to_jsonb(t) as row from ${table.qualifiedName} t where ${column} = any($1::bigint[]) order by to_jsonb(t)::text`,
        [tenantIds],
      );
      snapshot[table.qualifiedName] = rows.map((r) => r.row);
    }
    return snapshot;
  });
}
