import { sql } from 'kysely';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { createAppDatabase, type AppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import type { KeysetWindow } from '../../src/graphql/keyset.js';
import { findConversationsByIds, listConversations } from '../../src/modules/conversations/queries.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { beginTenantTransaction } from '../../src/tenancy/tenant-transaction.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// The prepared path (DATABASE_PREPARED_STATEMENTS=on, src/db/prepared-statements.ts) against a real server: the
// API's statements become named statements of the connection, a bounded number of them, and a cached generic
// plan still reads the tenant of each transaction.

const WINDOW: KeysetWindow = { limit: 10, cursor: null, direction: 'forward' };
const MODE = { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 };
const opened: AppDatabase[] = [];

function preparedDatabase(perConnection: number, url = inject('appUrl')): AppDatabase {
  // One connection, so every transaction of a test meets the statements the previous ones prepared.
  const database = createAppDatabase(createPool({ connectionString: url, max: 1, preparedStatementsPerConnection: perConnection }));
  opened.push(database);
  return database;
}

afterEach(async () => {
  for (const database of opened.splice(0)) await database.db.destroy();
});

async function tenantWithConversation(title: string): Promise<{ tenant: TestTenant; id: string }> {
  const tenant = await createTestTenant();
  const id = await withOwnerTransaction(inject('ownerUrl'), async (client) => {
    await enterTenant(client, tenant.id);
    const { rows } = await client.query<{ id: string }>('insert into conversations (title, created_by) values ($1, $2) returning id', [
      title,
      tenant.admin.id,
    ]);
    return rows[0]!.id;
  });
  return { tenant, id };
}

/** The connection's own view: what pg_prepared_statements lists for it (a statement without values is not prepared). */
async function preparedOnServer(database: AppDatabase): Promise<{ name: string; statement: string; generic_plans: number }[]> {
  const client = await database.pool.connect();
  try {
    return (await client.query('select name, statement, generic_plans::int from pg_prepared_statements order by name')).rows;
  } finally {
    client.release();
  }
}

async function titlesAs(database: AppDatabase, tenant: TestTenant): Promise<string[]> {
  const tx = await beginTenantTransaction(database, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
  try {
    const rows = await listConversations(tx, { archived: false }, WINDOW);
    return rows.map((row) => row.title);
  } finally {
    await tx.commit().execute();
  }
}

describe('prepared statements (src/db/prepared-statements.ts)', () => {
  it('sends the request statements as named statements, prepared once per connection', async () => {
    const { tenant } = await tenantWithConversation('prepared once');
    const database = preparedDatabase(100);
    expect(await titlesAs(database, tenant)).toEqual(['prepared once']);
    const first = await preparedOnServer(database);
    expect(first.map((row) => row.statement)).toEqual([expect.stringMatching(/^select \* from "conversations"/)]);
    expect(await titlesAs(database, tenant)).toEqual(['prepared once']);
    expect(await preparedOnServer(database)).toEqual(first.map((row) => ({ ...row, generic_plans: expect.any(Number) })));
  });

  it('keeps at most the configured number of statements per connection, least recently used out', async () => {
    const { tenant } = await tenantWithConversation('bounded');
    const database = preparedDatabase(3);
    for (let shape = 0; shape < 10; shape++) {
      const tx = await beginTenantTransaction(database, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
      // Ten distinct texts with a value each: ten statements the client would otherwise keep forever.
      const { rows } = await sql<{ n: number }>`select ${sql.raw(String(shape))} + ${shape}::int as n`.execute(tx);
      expect(rows).toEqual([{ n: 2 * shape }]);
      await tx.commit().execute();
    }
    const prepared = await preparedOnServer(database);
    expect(prepared.length).toBeLessThanOrEqual(3);
    expect(prepared.map((row) => row.statement).sort()).toEqual(['select 7 + $1::int as n', 'select 8 + $1::int as n', 'select 9 + $1::int as n']);
    const client = (await database.pool.connect()) as pg.PoolClient & { preparedStatementCount: number; connection: { parsedStatements: object } };
    try {
      expect(client.preparedStatementCount).toBe(3);
      expect(Object.keys(client.connection.parsedStatements).length).toBeLessThanOrEqual(3);
    } finally {
      client.release();
    }
  });

  it('evicts and re-prepares without confusing two statements', async () => {
    const { tenant, id } = await tenantWithConversation('re-prepared');
    const database = preparedDatabase(1);
    for (let round = 0; round < 3; round++) {
      const tx = await beginTenantTransaction(database, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
      expect((await findConversationsByIds(tx, [id])).map((row) => row.title)).toEqual(['re-prepared']);
      expect((await listConversations(tx, { archived: false }, WINDOW)).map((row) => row.title)).toEqual(['re-prepared']);
      await tx.commit().execute();
    }
    expect((await preparedOnServer(database)).length).toBe(1);
  });

  it('stays bounded when statements fail to prepare in an aborted transaction', async () => {
    const { tenant } = await tenantWithConversation('aborted');
    const database = preparedDatabase(1);
    for (let round = 0; round < 4; round++) {
      const tx = await beginTenantTransaction(database, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
      await expect(sql`select 1 / ${0}::int`.execute(tx)).rejects.toMatchObject({ code: '22012' });
      // Its Parse is refused (25P02): the name never exists on the server, so nothing is deallocated for it.
      await expect(sql`select ${sql.raw(String(round))} + ${1}::int`.execute(tx)).rejects.toMatchObject({ code: '25P02' });
      await tx.rollback().execute();
    }
    const tx = await beginTenantTransaction(database, { tenantId: tenant.id, userId: tenant.admin.id }, MODE);
    expect((await listConversations(tx, { archived: false }, WINDOW)).map((row) => row.title)).toEqual(['aborted']);
    await tx.commit().execute();
    expect((await preparedOnServer(database)).length).toBeLessThanOrEqual(1);
  });

  it('re-evaluates the tenant for every execution of one prepared statement under a forced generic plan', async () => {
    const a = await tenantWithConversation('generic a');
    const b = await tenantWithConversation('generic b');
    const url = new URL(inject('appUrl'));
    url.searchParams.set('options', '-c plan_cache_mode=force_generic_plan');
    const database = preparedDatabase(100, url.toString());
    for (let round = 0; round < 3; round++) {
      expect(await titlesAs(database, a.tenant)).toEqual(['generic a']);
      expect(await titlesAs(database, b.tenant)).toEqual(['generic b']);
    }
    const [statement] = await preparedOnServer(database);
    // One named statement, planned once, generically, and executed for both tenants.
    expect(statement!.generic_plans).toBe(6);
  });
});
