import pg from 'pg';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { createTestTenant } from '../support/tenants.js';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';

async function addConversation(tenantId: string, createdBy: string, title: string): Promise<void> {
  await withOwnerTransaction(inject('ownerUrl'), async (client) => {
    await enterTenant(client, tenantId);
    await client.query('insert into conversations (title, created_by) values ($1, $2)', [title, createdBy]);
  });
}

describe('tenant policy under cached plans', () => {
  it('re-evaluates the tenant for every execution of one prepared statement under a forced generic plan', async () => {
    const a = await createTestTenant();
    const b = await createTestTenant();
    await addConversation(a.id, a.admin.id, `only-in-${a.id}`);
    await addConversation(b.id, b.admin.id, `only-in-${b.id}`);

    const client = new pg.Client({ connectionString: inject('appUrl') });
    await client.connect();
    try {
      // A generic plan is built once and reused; an IMMUTABLE tenant function could be folded into it.
      await client.query('set plan_cache_mode = force_generic_plan');
      const titlesAs = async (tenantId: string) => {
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', $1, true)", [tenantId]);
        const { rows } = await client.query({ name: 'titles', text: 'select title from conversations where title like $1', values: ['only-in-%'] });
        await client.query('commit');
        return rows.map((row) => row.title);
      };
      expect(await titlesAs(a.id)).toEqual([`only-in-${a.id}`]);
      expect(await titlesAs(b.id)).toEqual([`only-in-${b.id}`]);
      expect(await titlesAs(a.id)).toEqual([`only-in-${a.id}`]);

      const { rows } = await client.query(
        "select p.provolatile from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'app' and p.proname = 'current_tenant_id'",
      );
      expect(rows).toEqual([{ provolatile: 's' }]); // STABLE
    } finally {
      await client.end();
    }
  });
});
