import { describe, expect, it } from 'vitest';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { withAppClient } from '../support/owner-db.js';
import { createTestTenant } from '../support/tenants.js';

// The owner-side "enter a tenant" (src/tenancy/enter-tenant.ts), as the app role so that RLS applies to what it sees.
describe('enterTenant', () => {
  it('sets the tenant for the open transaction only: its rows are visible inside, nothing survives commit', async () => {
    const tenant = await createTestTenant();
    await withAppClient(async (client) => {
      await client.query('begin');
      await enterTenant(client, tenant.id);
      const inside = await client.query<{ tenant: string; users: string }>(
        'select app.current_tenant_id()::text as tenant, (select count(*) from users)::text as users',
      );
      expect(inside.rows).toEqual([{ tenant: tenant.id, users: '1' }]);
      await client.query('commit');
      const after = await client.query<{ setting: string | null }>("select current_setting('app.current_tenant', true) as setting");
      expect(after.rows[0]?.setting ?? '').toBe('');
    });
  });

  it('refuses a malformed tenant id before sending anything', async () => {
    await withAppClient(async (client) => {
      await client.query('begin');
      await expect(enterTenant(client, "1' or true --")).rejects.toThrow(TypeError);
      await expect(enterTenant(client, '0')).rejects.toThrow(/positive 64-bit decimal tenant id, received "0"/);
      // Nothing was sent: the transaction is not aborted and still has no tenant.
      const { rows } = await client.query<{ setting: string | null }>("select current_setting('app.current_tenant', true) as setting");
      expect(rows[0]?.setting ?? '').toBe('');
      await client.query('rollback');
    });
  });
});
