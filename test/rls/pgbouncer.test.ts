import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { createTenant } from '../../src/admin/tenants.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { createPool } from '../../src/db/pool.js';
import { usePreparedStatements } from '../../src/db/prepared-statements.js';

/**
 * Through PgBouncer in transaction pooling mode, consecutive transactions of different clients share server
 * connections. A transaction-local tenant setting cannot survive that; a session-level SET does, which is
 * why the server never uses one. The negative control proves this test can see a leak when there is one.
 * Runs when TEST_PGBOUNCER_URL is set (CI's third run, see .ci/run), in a database of its own: PgBouncer pools
 * per database, so the deliberate leak cannot reach the connections of tests running beside it.
 */
const bouncer = process.env.TEST_PGBOUNCER_URL;

describe.skipIf(!bouncer)('tenant context through PgBouncer (transaction pooling)', () => {
  let database: TestDatabase;
  let tenant: { id: string };
  let title: string;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await createTestDatabase();
    const provisioned = await createTenant(database.ownerUrl, { name: 'Bouncer', adminEmail: 'admin@bouncer.test' });
    tenant = provisioned.tenant;
    title = `bouncer-${tenant.id}`;
    await withOwnerTransaction(database.ownerUrl, async (client) => {
      await enterTenant(client, tenant.id);
      await client.query('insert into conversations (title, created_by) values ($1, $2)', [title, provisioned.user.id]);
    });
    expect(new URL(database.appUrl).port).toBe(new URL(bouncer!).port);
    pool = new pg.Pool({ connectionString: database.appUrl, max: 8 });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  /** Runs `setTenant` on one client, then, on many other clients, reads conversations without setting anything. */
  async function readsAfter(setTenant: (client: pg.PoolClient) => Promise<void>): Promise<{ leaked: number; refused: number }> {
    const first = await pool.connect();
    await setTenant(first);
    first.release();
    let leaked = 0;
    let refused = 0;
    // Several rounds: PgBouncer may hand out any of its server connections to the next transaction.
    for (let round = 0; round < 20; round++) {
      const client = await pool.connect();
      try {
        const { rows } = await client.query('select title from conversations where title = $1', [title]);
        if (rows.length) leaked++;
      } catch (error) {
        if (!/tenant context is not set/.test((error as Error).message)) throw error;
        refused++;
      } finally {
        client.release();
      }
    }
    return { leaked, refused };
  }

  it("never leaks a transaction-local tenant setting into another client's transaction", async () => {
    const result = await readsAfter(async (client) => {
      await client.query('begin');
      await client.query("select set_config('app.current_tenant', $1, true)", [tenant.id]);
      await client.query('select count(*) from conversations');
      await client.query('commit');
    });
    expect(result).toEqual({ leaked: 0, refused: 20 });
  });

  it('sends unnamed statements through the pooler (DATABASE_PREPARED_STATEMENTS=auto), since named ones break there', async () => {
    // The URL the server's pool gets in this run says pgbouncer=true: auto turns prepared statements off.
    expect(usePreparedStatements('auto', database.appUrl)).toBe(false);
    // What `on` would do through PgBouncer 1.18 in transaction mode: two clients prepare "their" statement, which
    // lands on whichever server connection the pooler picks, so it exists twice or not at all.
    const prepared = createPool({ connectionString: database.appUrl, max: 4, preparedStatementsPerConnection: 100 });
    const failures: string[] = [];
    try {
      for (let round = 0; round < 10; round++) {
        const clients = await Promise.all([prepared.connect(), prepared.connect()]);
        for (const client of clients) {
          try {
            await client.query('begin');
            await client.query("select set_config('app.current_tenant', $1, true)", [tenant.id]);
            await client.query('select title from conversations where title = $1', [title]);
            await client.query('commit');
          } catch (error) {
            failures.push((error as { code?: string }).code ?? String(error));
            await client.query('rollback').catch(() => {});
          }
        }
        for (const client of clients) client.release();
      }
    } finally {
      await prepared.end();
    }
    // 42P05 duplicate prepared statement, 26000 prepared statement does not exist.
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((code) => code === '42P05' || code === '26000')).toBe(true);
  });

  it('negative control: a session-level SET does leak through the pooler, so the test above can fail', async () => {
    const result = await readsAfter(async (client) => {
      await client.query(`set app.current_tenant = '${tenant.id}'`);
    });
    // Which reads land on the backend that was SET depends on PgBouncer's choice of server connection.
    expect(result.leaked).toBeGreaterThan(0);
  });
});
