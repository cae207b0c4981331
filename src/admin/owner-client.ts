import pg from 'pg';
import { connectClient } from '../db/guarded-client.js';

/**
 * Administrative work (provisioning tenants, seeding, CLI) connects as the owner role. It still writes
 * tenant rows inside a tenant context, so the same RLS policies check it unless the owner bypasses RLS.
 */
export async function withOwnerTransaction<T>(ownerUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-admin' });
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
