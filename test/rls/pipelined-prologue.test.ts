import { sql } from 'kysely';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { createAppDatabase, type AppDatabase } from '../../src/db/kysely.js';
import { DeferredPrologue, queryWithPrologue } from '../../src/db/pipelined-prologue.js';
import { createPool } from '../../src/db/pool.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { beginTenantTransaction, knownIdentityOf, prologueRefusalOf, rollBackQuietly } from '../../src/tenancy/tenant-transaction.js';
import { buildTransactionPrologueStatements } from '../../src/tenancy/transaction-prologue.js';
import { createTestTenant } from '../support/tenants.js';

// The prologue sent with the transaction's first statement, in one round trip (src/db/pipelined-prologue.ts),
// against a real server: a refused or broken prologue never lets the statement run, its connection comes back
// clean, and pg's record of prepared statements stays true.

const MODE = { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000, deferPrologue: true };
const opened: AppDatabase[] = [];

function database(prepared: boolean): AppDatabase {
  // One connection: every transaction meets what the previous one left on it.
  const pool = createPool({ connectionString: inject('appUrl'), max: 1, ...(prepared ? { preparedStatementsPerConnection: 10 } : {}) });
  const db = createAppDatabase(pool);
  opened.push(db);
  return db;
}

afterEach(async () => {
  for (const db of opened.splice(0)) await db.db.destroy();
});

const titles = sql<{ title: string; tenant: string }>`select title, app.current_tenant_id()::text as tenant from conversations where title <> ${'-'}`;

async function tenantWith(title: string) {
  const tenant = await createTestTenant();
  await withOwnerTransaction(inject('ownerUrl'), async (client) => {
    await enterTenant(client, tenant.id);
    await client.query('insert into conversations (title, created_by) values ($1, $2)', [title, tenant.admin.id]);
  });
  return tenant;
}

// Named statements only on a direct connection: PgBouncer 1.18 in transaction mode (CI's third run) shares a server
// connection's statements between clients (test/rls/pgbouncer.test.ts), which has nothing to do with the prologue.
const PREPARED = process.env.TEST_PGBOUNCER_URL ? [false] : [true, false];

describe.each(PREPARED)('a deferred prologue (prepared statements %s)', (prepared) => {
  it('runs the first statement in the tenant and learns the identity from the same round trip', async () => {
    const db = database(prepared);
    const tenant = await tenantWith('mine');
    const tx = await beginTenantTransaction(db, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
    expect(knownIdentityOf(tx)).toBeUndefined();
    const { rows } = await titles.execute(tx);
    expect(rows).toEqual([{ title: 'mine', tenant: tenant.id }]);
    expect(knownIdentityOf(tx)).toEqual({ tenantId: tenant.id, userId: tenant.admin.id });
    await tx.commit().execute();
  });

  it('rejects the statement with the refusal, rolls back, and the next transaction on the connection sees its own tenant', async () => {
    const db = database(prepared);
    const mine = await tenantWith('mine');
    const other = await tenantWith('other');
    for (let round = 0; round < 2; round++) {
      // Not a member: the admin of `mine` names tenant `other`.
      const tx = await beginTenantTransaction(db, { tenantId: other.id, userId: mine.admin.id }, MODE);
      const refusal = await titles.execute(tx).catch((error: unknown) => error);
      expect(refusal).toMatchObject({ code: 'TG002', detail: other.id, message: "the token's user is not a member of its tenant" });
      // Later statements fail with the same refusal; none reaches the server.
      await expect(titles.execute(tx)).rejects.toBe(refusal);
      expect(prologueRefusalOf(tx)?.error).toBe(refusal);
      await rollBackQuietly(tx);

      const next = await beginTenantTransaction(db, { tenantId: mine.id, userId: mine.admin.id }, MODE);
      expect((await titles.execute(next)).rows).toEqual([{ title: 'mine', tenant: mine.id }]);
      await next.commit().execute();
    }
    // The connection is the pool's only one and is idle outside any transaction, with no tenant left on it.
    const client = await db.pool.connect();
    try {
      expect(client.getTransactionStatus?.()).toBe('I');
      const { rows } = await client.query(`select nullif(current_setting('app.current_tenant', true), '') as tenant`);
      expect(rows).toEqual([{ tenant: null }]);
    } finally {
      client.release();
    }
  });

  it('refuses a suspended tenant with TG004 and never runs the statement', async () => {
    const db = database(prepared);
    const tenant = await tenantWith('suspended');
    await withOwnerTransaction(inject('ownerUrl'), async (client) => {
      await client.query(`update tenants set suspended_at = now(), suspension_reason = 'test' where id = $1`, [tenant.id]);
    });
    const tx = await beginTenantTransaction(db, { tenantId: tenant.id, userId: tenant.admin.id }, { ...MODE, readOnly: false });
    // A write with a side effect a later transaction could see.
    const insert = sql`insert into conversations (title, created_by) values (${'written while refused'}, ${tenant.admin.id}::uuid)`;
    await expect(insert.execute(tx)).rejects.toMatchObject({ code: 'TG004' });
    await rollBackQuietly(tx);
    const rows = await withOwnerTransaction(inject('ownerUrl'), async (client) => {
      return (await client.query('select title from conversations where tenant_id = $1 order by title', [tenant.id])).rows;
    });
    expect(rows).toEqual([{ title: 'suspended' }]);
  });
});

describe('PrologueAndStatement', () => {
  it('never runs the statement when the prologue does not even parse, inside or outside a transaction', async () => {
    const pool = createPool({ connectionString: inject('appUrl'), max: 1 });
    try {
      const tenant = await createTestTenant();
      const client = await pool.connect();
      try {
        for (const broken of [
          // Nothing runs: no transaction is open when the error comes.
          ['start transactio read only', 'select 1'],
          // start transaction runs, then a statement fails to parse: an aborted transaction.
          ['start transaction read only', 'select * from app.enter_tenant(('],
        ]) {
          const prologue = new DeferredPrologue(broken, tenant.id);
          // A session-level setting: it would outlive any transaction if the statement ran at all.
          const error = await queryWithPrologue(client, prologue, `select set_config('tg.pipelined_marker', $1, false)`, ['ran']).catch(
            (thrown: unknown) => thrown,
          );
          expect(error).toMatchObject({ code: '42601' });
          expect(prologue.state).toBe('refused');
          await client.query('rollback');
          const { rows } = await client.query(`select current_setting('tg.pipelined_marker', true) as marker`);
          expect(rows).toEqual([{ marker: null }]);
        }
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('sends the prologue and the statement in one socket write', async () => {
    const pool = createPool({ connectionString: inject('appUrl'), max: 1, preparedStatementsPerConnection: 10 });
    try {
      const tenant = await createTestTenant();
      const client = await pool.connect();
      try {
        const socket = (client as unknown as { connection: { stream: { write: (...args: unknown[]) => boolean; _writev?: unknown } } }).connection
          .stream as unknown as { write: (...args: unknown[]) => boolean; _writeGeneric: (...args: unknown[]) => unknown };
        let writes = 0;
        const original = socket._writeGeneric.bind(socket);
        socket._writeGeneric = (...args: unknown[]) => {
          writes++;
          return original(...args);
        };
        const statements = buildTransactionPrologueStatements({ tenantId: tenant.id, userId: tenant.admin.id }, MODE);
        const { rows } = await queryWithPrologue(
          client,
          new DeferredPrologue(statements, tenant.id),
          'select app.current_tenant_id()::text as tenant where $1',
          [true],
        );
        expect(rows).toEqual([{ tenant: tenant.id }]);
        expect(writes).toBe(1);
        await client.query('rollback');
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });
});
