import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteTenant } from '../../src/admin/tenant-delete.js';
import { PLAN_CHANNEL } from '../../src/tenancy/plan-change-listener.js';
import { withOwnerClient } from '../support/owner-db.js';
import { directAppUrl, eventually } from '../support/realtime-client.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// What migrations/0021 announces, heard on a plain LISTEN session as the app role; the servers that act on it:
// test/integration/plan-change-notices.test.ts. Other test files create tenants and change plans in the same
// database meanwhile: their notices name other tenants (or all), so each check waits for a notice of a tenant of
// its own that it sent last (one session's notices arrive in commit order).

const setPlan = (tenant: TestTenant, plan: string) =>
  withOwnerClient((client) => client.query('update tenants set plan = $1 where id = $2', [plan, tenant.id]));

describe('migrations/0021 (what is announced)', () => {
  let listener: pg.Client;
  const heard: string[] = [];
  beforeAll(async () => {
    // As the app role, like the servers: LISTEN needs no grant.
    listener = new pg.Client({ connectionString: directAppUrl(), application_name: 'tenantgraph-test-plan-listener' });
    await listener.connect();
    listener.on('notification', (message) => {
      if (message.channel === PLAN_CHANNEL) heard.push(message.payload ?? '');
    });
    await listener.query(`listen ${PLAN_CHANNEL}`);
  });
  afterAll(async () => {
    await listener?.end();
  });

  /** Waits until a notice naming `mark` arrives (notices of one session arrive in commit order). */
  const heardUpTo = async (mark: TestTenant) => {
    await eventually(() => heard.includes(mark.id), `a notice for tenant ${mark.id}`);
  };

  it('names a tenant on a plan or external id change, on its creation and on its deletion, and nothing else', async () => {
    const tenant = await createTestTenant();
    const mark = await createTestTenant();
    await heardUpTo(mark);
    expect(heard).toContain(tenant.id);
    heard.length = 0;
    await withOwnerClient(async (client) => {
      // Not announced: the same plan again, other columns, a rolled back change.
      await client.query("update tenants set plan = 'standard', name = name || ' renamed' where id = $1", [tenant.id]);
      await client.query('update tenants set suspended_at = now() where id = $1', [tenant.id]);
      await client.query('update tenants set suspended_at = null where id = $1', [tenant.id]);
      await client.query('begin');
      await client.query("update tenants set plan = 'free' where id = $1", [tenant.id]);
      await client.query('rollback');
    });
    await setPlan(mark, 'free');
    await heardUpTo(mark);
    expect(heard).not.toContain(tenant.id);
    heard.length = 0;
    await setPlan(tenant, 'enterprise');
    await withOwnerClient((client) =>
      client.query('update tenants set external_id = $1 where id = $2', [`org_${randomUUID().slice(0, 8)}`, tenant.id]),
    );
    await setPlan(mark, 'standard');
    await heardUpTo(mark);
    expect(heard.filter((payload) => payload === tenant.id)).toHaveLength(2);
    heard.length = 0;
    const name = (await withOwnerClient((client) => client.query<{ name: string }>('select name from tenants where id = $1', [tenant.id]))).rows[0]!
      .name;
    await deleteTenant(inject('ownerUrl'), { tenantId: tenant.id, confirmName: name, dryRun: false, operator: 'plan notice test' }, () => {});
    await setPlan(mark, 'free');
    await heardUpTo(mark);
    expect(heard).toContain(tenant.id);
  });

  it('announces every tenant (*) on a plan_limits change, once per statement', async () => {
    const mark = await createTestTenant();
    heard.length = 0;
    await withOwnerClient((client) =>
      client.query('insert into plan_limits values ($1, 5, 10, 0.25, 5000, 8000)', [`test_${randomUUID().replaceAll('-', '').slice(0, 12)}`]),
    );
    await setPlan(mark, 'free');
    await heardUpTo(mark);
    expect(heard).toContain('*');
  });
});
