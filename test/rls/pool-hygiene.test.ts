import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  ConversationsDocument,
  CreateConversationDocument,
  InviteUserDocument,
  PostMessageDocument,
  ViewerDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { listTenantTables } from '../../src/db/tenant-catalog.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import type { GraphQLResponse } from '../../src/sdk/client.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// A pool of ONE connection everywhere here, so "the next request" provably runs on the connection the previous
// one used (same backend pid).

const TENANT_CONTEXT_NOT_SET = 'tenant context is not set';

let server: TestServer;
let a: TestTenant;
let b: TestTenant;
let bTitle: string;

beforeAll(async () => {
  // The audit trail writes buffered events on the same pool; here only when told to (see serverConnection).
  server = await startTestServer({ pool: { max: 1, acquireTimeoutMs: 5000 }, audit: { flushIntervalMs: 3_600_000, maxPending: 10_000 } });
  [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
  // Rows in every tenant table, so a policy that failed open would have something to show.
  for (const tenant of [a, b]) {
    const api = server.client(tenant.admin.token);
    const created = ok(await api.request(CreateConversationDocument, { input: { title: `Hygiene ${tenant.id}` } }));
    ok(await api.request(PostMessageDocument, { input: { conversationId: created.createConversation.conversation.id, body: `Body ${tenant.id}` } }));
  }
  bTitle = `Hygiene ${b.id}`;
});
afterAll(async () => {
  await server?.close();
});

function ok<T>(response: GraphQLResponse<T>): T {
  expect(response.errors).toBeUndefined();
  return response.data!;
}

/** A new app-role pool of one connection; ended by the caller. */
function appPool(): pg.Pool {
  return new pg.Pool({ connectionString: inject('appUrl'), max: 1, application_name: 'tenantgraph-test-hygiene' });
}

/** Checks a client out for `work`; a client whose work failed is destroyed rather than returned. */
async function checkedOut<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed = true;
  try {
    const result = await work(client);
    failed = false;
    return result;
  } finally {
    client.release(failed);
  }
}

interface ConnectionState {
  pid: number;
  tenant: string | null;
  user: string | null;
}

async function stateOf(client: pg.PoolClient): Promise<ConnectionState> {
  const { rows } = await client.query<ConnectionState>(
    `select pg_backend_pid() as pid, current_setting('app.current_tenant', true) as tenant,
            current_setting('app.current_user', true) as user`,
  );
  return rows[0]!;
}

/** The state of the server's only pooled connection, read on that very connection between two requests. */
async function serverConnection(): Promise<ConnectionState> {
  // Buffered audit events first, so no write of the audit trail is under way on the connection while we look.
  await server.audit.flush();
  const client = await server.database.pool.connect();
  try {
    return await stateOf(client);
  } finally {
    client.release();
  }
}

async function backendState(pid: number): Promise<string | null> {
  return withOwnerClient(async (client) => {
    const { rows } = await client.query<{ state: string }>('select state from pg_stat_activity where pid = $1', [pid]);
    return rows[0]?.state ?? null;
  });
}

async function conversationTitles(tenantId: string): Promise<string[]> {
  return withOwnerClient(async (client) => {
    const { rows } = await client.query<{ title: string }>('select title from conversations where tenant_id = $1 order by title', [tenantId]);
    return rows.map((r) => r.title);
  });
}

describe("the server's pooled connection after a failed request", () => {
  // `leftover` is the title each failed mutation wrote before it failed; the rollback must have removed it.
  const failures: { name: string; fail: () => Promise<GraphQLResponse<unknown>>; code: string; leftover: string }[] = [
    {
      name: 'a resolver throws after a write',
      // createConversation writes, then renameConversation of a nonexistent id throws NOT_FOUND: all rolled back.
      fail: () => {
        const missing = encodeGlobalId('Conversation', randomUUID());
        return server
          .post(
            {
              query: `mutation($title: String!, $missing: ID!) {
              created: createConversation(input: { title: $title }) { conversation { id } }
              renamed: renameConversation(input: { id: $missing, title: "never" }) { conversation { id } }
            }`,
              variables: { title: 'Half-done', missing },
            },
            { authorization: `Bearer ${a.admin.token}` },
          )
          .then(({ status, json }) => ({ status, ...json, headers: new Headers() }));
      },
      code: 'NOT_FOUND',
      leftover: 'Half-done',
    },
    {
      name: 'a statement raises (unique violation) after a write',
      fail: () =>
        server
          .post(
            {
              query: `mutation($title: String!, $email: String!) {
              created: createConversation(input: { title: $title }) { conversation { id } }
              invited: inviteUser(input: { email: $email, displayName: "Twin" }) { user { id } }
            }`,
              variables: { title: 'Aborted', email: a.admin.email },
            },
            { authorization: `Bearer ${a.admin.token}` },
          )
          .then(({ status, json }) => ({ status, ...json, headers: new Headers() })),
      code: 'BAD_USER_INPUT',
      leftover: 'Aborted',
    },
  ];

  it.each(failures)('serves the next tenant with no trace of the previous one when $name', async ({ fail, code, leftover }) => {
    const before = await serverConnection();

    const failed = await fail();
    expect(failed.errors?.map((e) => e.extensions?.code)).toEqual([code]);
    expect(await conversationTitles(a.id)).not.toContain(leftover);

    // The same connection, back in the pool outside any transaction, with neither tenant nor user set.
    const between = await serverConnection();
    expect(between.pid).toBe(before.pid);
    expect(['', null]).toContain(between.tenant);
    expect(['', null]).toContain(between.user);
    expect(await backendState(before.pid)).toBe('idle');

    // The next tenant on that connection sees itself only.
    const api = server.client(b.admin.token);
    const viewer = ok(await api.request(ViewerDocument));
    expect(viewer.viewer.user.email).toBe(b.admin.email);
    const list = ok(await api.request(ConversationsDocument, { first: 50 }));
    expect(list.conversations.edges.map((e) => e.node.title)).toEqual([bTitle]);
    expect(JSON.stringify([viewer, list])).not.toContain(a.id);

    const after = await serverConnection();
    expect(after.pid).toBe(before.pid);
    expect(['', null]).toContain(after.tenant);
  });

  it('sets the tenant only transaction-locally, never with a session-level SET', async () => {
    server.statements.length = 0;
    ok(await server.client(b.admin.token).request(ViewerDocument));
    ok(await server.client(a.admin.token).request(InviteUserDocument, { input: { email: `local-${a.id}@example.test`, displayName: 'Local' } }));
    // One prologue per request at least (the audit trail may open transactions of its own, also through src/tenancy).
    const prologues = server.statements.filter((sql) => sql.includes('app.enter_tenant('));
    expect(prologues.some((sql) => sql.includes(`app.enter_tenant('${a.id}',`))).toBe(true);
    expect(prologues.some((sql) => sql.includes(`app.enter_tenant('${b.id}',`))).toBe(true);
    for (const sql of prologues) expect(sql).toMatch(/^start transaction read (only|write);select \* from app\.enter_tenant\('[1-9][0-9]*',/);
    for (const sql of server.statements) {
      expect(sql).not.toMatch(/\bset\s+(session\s+)?app\./i);
      expect(sql).not.toMatch(/set_config\([^)]*,\s*false\)/);
    }
    // And the function the prologue calls sets everything transaction-locally.
    const { rows } = await withOwnerClient((client) =>
      client.query(
        "select prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'app' and p.proname = 'enter_tenant'",
      ),
    );
    const calls = (rows[0]!.prosrc as string).match(/set_config\([^;]*\)/g) ?? [];
    // The tenant, the user and the two timeouts (migrations/0012_external_identities_and_suspension.sql).
    expect(calls).toHaveLength(4);
    for (const call of calls) expect(call).toMatch(/,\s*true\)$/);
  });
});

describe('a bare app-role pool of one connection', () => {
  it('clears a transaction-local tenant at commit and at rollback', async () => {
    const pool = appPool();
    try {
      const fresh = await checkedOut(pool, async (client) => {
        const state = await stateOf(client);
        expect(state.tenant).toBeNull();
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', $1, true)", [a.id]);
        expect((await stateOf(client)).tenant).toBe(a.id);
        await client.query('commit');
        return state;
      });

      await checkedOut(pool, async (client) => {
        const afterCommit = await stateOf(client);
        expect(afterCommit.pid).toBe(fresh.pid);
        expect(['', null]).toContain(afterCommit.tenant);
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', $1, true)", [b.id]);
        await expect(client.query('select 1 / 0')).rejects.toThrow(/division by zero/);
        await client.query('rollback');
      });

      await checkedOut(pool, async (client) => {
        const afterRollback = await stateOf(client);
        expect(afterRollback.pid).toBe(fresh.pid);
        expect(['', null]).toContain(afterRollback.tenant);
        await expect(client.query('select title from conversations')).rejects.toThrow(TENANT_CONTEXT_NOT_SET);
      });
    } finally {
      await pool.end();
    }
  });
});

describe('app.current_tenant_id() outside a tenant transaction', () => {
  /**
   * Runs `sql` without any tenant on a fresh connection (setting NULL) and on a reused one (setting ''), and
   * returns both outcomes. Writes run inside a transaction that is rolled back, so a policy that failed open
   * could not damage other tests' rows; no tenant is set in it either.
   */
  async function failuresOf(sql: string, params: unknown[] = []): Promise<{ code?: string; message: string }[]> {
    const write = !/^\s*select/i.test(sql);
    const attempt = async (client: pg.PoolClient) => {
      if (write) await client.query('begin');
      try {
        await client.query(sql, params);
        return { message: 'succeeded' };
      } catch (error) {
        return error as pg.DatabaseError;
      } finally {
        if (write) await client.query('rollback');
      }
    };
    const pool = appPool();
    try {
      return await checkedOut(pool, async (client) => {
        const onFresh = await attempt(client);
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', $1, true)", [a.id]);
        await client.query('commit');
        expect((await stateOf(client)).tenant).toBe('');
        return [onFresh, await attempt(client)];
      });
    } finally {
      await pool.end();
    }
  }

  it('refuses SELECT on every tenant table (listTenantTables) with "tenant context is not set"', async () => {
    const tables = await withOwnerClient(listTenantTables);
    expect(tables.map((t) => t.qualifiedName)).toEqual(
      expect.arrayContaining(['public.tenants', 'public.users', 'public.conversations', 'public.messages']),
    );
    for (const table of tables) {
      // PostgreSQL evaluates the policy's tenant predicate per row: a table with no rows at all (a new module's,
      // before anyone used it) has nothing to refuse, and a seq scan of it never asks for the tenant.
      const { rows } = await withOwnerClient((client) => client.query(`select exists (select from ${table.qualifiedName}) as filled`));
      // (Another test file may fill it meanwhile; then it must refuse like the others.)
      if (!rows[0].filled) {
        for (const outcome of await failuresOf(`select * from ${table.qualifiedName}`)) {
          expect([TENANT_CONTEXT_NOT_SET, 'succeeded'], `${table.qualifiedName} (empty)`).toContain(outcome.message);
        }
        continue;
      }
      for (const error of await failuresOf(`select * from ${table.qualifiedName}`)) {
        expect(error.message, table.qualifiedName).toBe(TENANT_CONTEXT_NOT_SET);
        expect(error.code, table.qualifiedName).toBe('TG001');
      }
    }
  });

  it.each([
    ['users', 'insert into users (email, display_name) values ($1, $2)', () => [`bare-${randomUUID()}@example.test`, 'Bare']],
    [
      'users (explicit tenant_id)',
      'insert into users (tenant_id, email, display_name) values ($1, $2, $3)',
      () => [a.id, `bare-${randomUUID()}@example.test`, 'Bare'],
    ],
    ['conversations', 'insert into conversations (title, created_by) values ($1, $2)', () => ['Bare', a.admin.id]],
    [
      'conversations (explicit tenant_id)',
      'insert into conversations (tenant_id, title, created_by) values ($1, $2, $3)',
      () => [a.id, 'Bare', a.admin.id],
    ],
    ['messages', 'insert into messages (conversation_id, author_id, body) values ($1, $2, $3)', () => [randomUUID(), a.admin.id, 'Bare']],
    [
      'messages (explicit tenant_id)',
      'insert into messages (tenant_id, conversation_id, author_id, body) values ($1, $2, $3, $4)',
      () => [a.id, randomUUID(), a.admin.id, 'Bare'],
    ],
  ])('refuses INSERT into %s with "tenant context is not set"', async (_name, sql, params) => {
    for (const error of await failuresOf(sql, params())) {
      expect(error.message).toBe(TENANT_CONTEXT_NOT_SET);
      expect(error.code).toBe('TG001');
    }
  });

  it('refuses INSERT into tenants before any policy runs: the app role holds no INSERT there', async () => {
    for (const error of await failuresOf('insert into tenants (id, name) values ($1, $2)', ['123456789', 'Bare'])) {
      expect(error.message).toBe('permission denied for table tenants');
      expect(error.code).toBe('42501');
    }
  });

  it('refuses UPDATE of conversations with "tenant context is not set"', async () => {
    for (const error of await failuresOf("update conversations set title = 'Bare'")) {
      expect(error.message).toBe(TENANT_CONTEXT_NOT_SET);
    }
    expect(await conversationTitles(a.id)).not.toContain('Bare');
  });
});

describe('session-level SET (negative control)', () => {
  /** What the next checkout of a one-connection pool reads from conversations without setting any tenant. */
  async function titlesOnNextCheckout(pool: pg.Pool, pid: number): Promise<string[] | Error> {
    const client = await pool.connect();
    try {
      // Outside the catch below: a failed expectation must fail the test, not come back as the query's error.
      expect((await stateOf(client)).pid).toBe(pid);
      return await client.query<{ title: string }>('select title from conversations order by title').then(
        ({ rows }) => rows.map((r) => r.title),
        (error: Error) => error,
      );
    } finally {
      // A leaked session setting must not outlive this test: destroy the connection.
      client.release(true);
    }
  }

  it.each([
    ['SET app.current_tenant', (tenantId: string) => `set app.current_tenant = '${tenantId}'`],
    ['set_config(…, false)', (tenantId: string) => `select set_config('app.current_tenant', '${tenantId}', false)`],
  ])('%s leaks the tenant into the next checkout, where transaction-local set_config does not', async (_name, sessionSet) => {
    const aTitles = [`Hygiene ${a.id}`];

    // Session-level: the setting survives the checkout, and the next user of the connection sees A's rows
    // without having set any tenant.
    const leaky = appPool();
    try {
      const { pid } = await checkedOut(leaky, async (client) => {
        await client.query(sessionSet(a.id));
        return stateOf(client);
      });
      expect(await titlesOnNextCheckout(leaky, pid)).toEqual(aTitles);
    } finally {
      await leaky.end();
    }

    // Transaction-local: the same steps inside a transaction leave nothing behind; the next user is refused.
    const safe = appPool();
    try {
      const { pid } = await checkedOut(safe, async (client) => {
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', $1, true)", [a.id]);
        const { rows } = await client.query<{ title: string }>('select title from conversations order by title');
        expect(rows.map((r) => r.title)).toEqual(aTitles);
        await client.query('commit');
        return stateOf(client);
      });
      const next = await titlesOnNextCheckout(safe, pid);
      expect(next).toBeInstanceOf(Error);
      expect((next as Error).message).toBe(TENANT_CONTEXT_NOT_SET);
    } finally {
      await safe.end();
    }
  });
});
