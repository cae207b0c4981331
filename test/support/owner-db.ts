import pg from 'pg';
import { inject } from 'vitest';

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

/** Every row of some tenants, per table, in a stable order; equal snapshots mean nothing was written or changed. */
export interface TenantRows {
  tenants: Row[];
  users: Row[];
  conversations: Row[];
  messages: Row[];
}

/**
 * Reads every row of the given tenants through the owner connection. Only these tenants: test files run
 * concurrently against one database, so rows of other files' tenants come and go.
 */
export function snapshotTenants(tenantIds: readonly string[]): Promise<TenantRows> {
  return withOwnerClient(async (client) => {
    const read = async (sql: string) => (await client.query<{ row: Row }>(sql, [tenantIds])).rows.map((r) => r.row);
    return {
      tenants: await read('select to_jsonb(t) as row from tenants t where id = any($1::bigint[]) order by id'),
      users: await read('select to_jsonb(u) as row from users u where tenant_id = any($1::bigint[]) order by tenant_id, id'),
      conversations: await read(
        'select to_jsonb(c) as row from conversations c where tenant_id = any($1::bigint[]) order by tenant_id, id',
      ),
      messages: await read('select to_jsonb(m) as row from messages m where tenant_id = any($1::bigint[]) order by tenant_id, id'),
    };
  });
}
