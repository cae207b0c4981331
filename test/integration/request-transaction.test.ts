import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ConversationsDocument, CreateConversationDocument, ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { buildTransactionPrologue } from '../../src/tenancy/transaction-prologue.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

const PROLOGUE = /^start transaction (read only|read write);select \* from app\.enter_tenant\('(\d+)',/;

/** Every connection of the server's pool is back in the pool and nobody waits for one. */
async function expectPoolIdle(server: TestServer): Promise<void> {
  // The HTTP handler's safety net may roll back just after the response went out, so allow it a moment.
  await vi.waitFor(
    () => {
      const { totalCount, idleCount, waitingCount } = server.database.pool;
      expect({ idle: idleCount, waiting: waitingCount }).toEqual({ idle: totalCount, waiting: 0 });
    },
    { timeout: 2000, interval: 5 },
  );
}

/** Counts a tenant's conversations with a title through the owner connection, not the API under test. */
async function countConversations(tenantId: string, title: string): Promise<number> {
  const client = new pg.Client({ connectionString: inject('ownerUrl') });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: number }>('select count(*)::int as count from conversations where tenant_id = $1 and title = $2', [
      tenantId,
      title,
    ]);
    return rows[0]!.count;
  } finally {
    await client.end();
  }
}

describe('RequestTransaction: access mode and settings', () => {
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer({ transaction: { statementTimeoutMs: 1234, idleInTransactionTimeoutMs: 4321 } });
    tenant = await createTestTenant();
  });
  afterAll(async () => {
    await server.close();
  });

  it('runs a query in one READ ONLY transaction with the tenant, user and timeouts, then commits', async () => {
    server.statements.length = 0;
    const result = await server.client(tenant.admin.token).request(ViewerDocument);
    expect(result.errors).toBeUndefined();
    expect(server.statements[0]).toBe(
      'start transaction read only;' + `select * from app.enter_tenant('${tenant.id}','${tenant.admin.id}',1234,4321)`,
    );
    expect(server.statements.at(-1)).toBe('commit');
    expect(server.statements.filter((s) => PROLOGUE.test(s))).toHaveLength(1);
    await expectPoolIdle(server);
  });

  it('runs a mutation in a READ WRITE transaction and commits it', async () => {
    server.statements.length = 0;
    const result = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'rw' } });
    expect(result.errors).toBeUndefined();
    expect(server.statements[0]).toMatch(/^start transaction read write;select \* from app\.enter_tenant\('\d+','[0-9a-f-]{36}',1234,4321\)$/);
    expect(server.statements.filter((s) => /^insert into "conversations"/.test(s))).toHaveLength(1);
    expect(server.statements.at(-1)).toBe('commit');
    expect(server.statements).not.toContain('rollback');
  });

  it('opens one transaction for a query with many root fields', async () => {
    server.statements.length = 0;
    const result = await server.post(
      { query: '{ viewer { user { id } tenant { name } } conversations { totalCount } users { totalCount } }' },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors).toBeUndefined();
    expect(server.statements.filter((s) => s.startsWith('start transaction'))).toHaveLength(1);
    expect(server.statements.filter((s) => s === 'commit')).toHaveLength(1);
  });

  it('picks READ WRITE from the operation chosen by operationName', async () => {
    const document = 'query Q { viewer { user { id } } } mutation M { createConversation(input: { title: "by name" }) { conversation { id } } }';
    server.statements.length = 0;
    await server.post({ query: document, operationName: 'Q' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(server.statements[0]).toMatch(/^start transaction read only;/);
    server.statements.length = 0;
    await server.post({ query: document, operationName: 'M' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(server.statements[0]).toMatch(/^start transaction read write;/);
  });

  it('applies statement_timeout inside the transaction only (checked on a real app-role connection)', async () => {
    const client = new pg.Client({ connectionString: inject('appUrl') });
    await client.connect();
    try {
      const before = (await client.query<{ v: string }>("select current_setting('statement_timeout') as v")).rows[0]!.v;
      await client.query(
        buildTransactionPrologue(
          { tenantId: tenant.id, userId: tenant.admin.id },
          { readOnly: true, statementTimeoutMs: 200, idleInTransactionTimeoutMs: 10_000 },
        ),
      );
      expect((await client.query<{ v: string }>("select current_setting('statement_timeout') as v")).rows[0]!.v).toBe('200ms');
      await expect(client.query('select pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
      await client.query('rollback');
      expect((await client.query<{ v: string }>("select current_setting('statement_timeout') as v")).rows[0]!.v).toBe(before);
    } finally {
      await client.end();
    }
  });
});

describe('RequestTransaction: requests that never touch the database', () => {
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await createTestTenant();
    // Warm the pool so "all connections idle" is about a real connection, not an empty pool.
    await server.client(tenant.admin.token).request(ViewerDocument);
  });
  afterAll(async () => {
    await server.close();
  });

  const withToken = () => ({ authorization: `Bearer ${tenant.admin.token}` });

  it.each([
    ['introspection with a token', () => ({ query: '{ __schema { types { name } } }' }), withToken, 200],
    ['introspection without a token', () => ({ query: '{ __type(name: "Conversation") { fields { name } } }' }), () => ({}), 200],
    ['__typename only', () => ({ query: '{ __typename }' }), withToken, 200],
    ['a parse error', () => ({ query: '{ viewer { user { id }' }), withToken, 400],
    ['a validation error', () => ({ query: '{ viewer { user { password } } }' }), withToken, 400],
    ['a missing query', () => ({ variables: {} }), withToken, 400],
    ['an empty body', () => ({}), withToken, 400],
    ['variables that are not an object', () => ({ query: '{ viewer { user { id } } }', variables: '{"a":1}' }), withToken, 400],
    [
      'a variable of the wrong type',
      () => ({ query: 'query($f: Int) { conversations(first: $f) { totalCount } }', variables: { f: 'x' } }),
      withToken,
      400,
    ],
    ['a missing required variable', () => ({ query: 'query($id: ID!) { conversation(id: $id) { id } }' }), withToken, 400],
    ['an unknown operationName', () => ({ query: '{ viewer { user { id } } }', operationName: 'Nope' }), withToken, 400],
    ['a subscription', () => ({ query: 'subscription { viewer { user { id } } }' }), withToken, 400],
    ['a bad token', () => ({ query: '{ viewer { user { id } } }' }), () => ({ authorization: 'Bearer a.b.c' }), 401],
    ['no token', () => ({ query: '{ viewer { user { id } } }' }), () => ({}), 401],
  ])('runs no SQL for %s and leaves the pool idle', async (_case, body, headers, status) => {
    server.statements.length = 0;
    const result = await server.post(body(), headers());
    expect(result.status).toBe(status);
    expect(server.statements).toEqual([]);
    await expectPoolIdle(server);
  });
});

describe('RequestTransaction: all-or-nothing', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('rolls back the first mutation when the second fails with NOT_FOUND', async () => {
    const tenant = await createTestTenant();
    const title = `doomed ${randomUUID()}`;
    server.statements.length = 0;
    const result = await server.post(
      {
        query: `mutation($title: String!, $id: ID!) {
          a: createConversation(input: { title: $title }) { conversation { id } }
          b: postMessage(input: { conversationId: $id, body: "never" }) { message { id } }
        }`,
        variables: { title, id: encodeGlobalId('Conversation', randomUUID()) },
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors[0].extensions.code).toBe('NOT_FOUND');
    expect(result.json.errors[0].path).toEqual(['b']);
    expect(server.statements[0]).toMatch(/^start transaction read write;/);
    expect(server.statements.filter((s) => s.startsWith('insert into "conversations"'))).toHaveLength(1);
    expect(server.statements.at(-1)).toBe('rollback');
    expect(server.statements).not.toContain('commit');
    expect(await countConversations(tenant.id, title)).toBe(0);
    await expectPoolIdle(server);
  });

  it('rolls back earlier mutations when a later one fails validation in the resolver', async () => {
    const tenant = await createTestTenant();
    const title = `doomed ${randomUUID()}`;
    const result = await server.post(
      {
        query: `mutation($title: String!) {
          a: createConversation(input: { title: $title }) { conversation { id } }
          b: createConversation(input: { title: $title }) { conversation { id } }
          c: createConversation(input: { title: "" }) { conversation { id } }
        }`,
        variables: { title },
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await countConversations(tenant.id, title)).toBe(0);
  });

  it('rolls back the first mutation when the second fails in PostgreSQL (unique violation)', async () => {
    const tenant = await createTestTenant();
    const title = `doomed ${randomUUID()}`;
    const result = await server.post(
      {
        query: `mutation($title: String!, $email: String!) {
          a: createConversation(input: { title: $title }) { conversation { id } }
          b: inviteUser(input: { email: $email, displayName: "Twin" }) { user { id } }
        }`,
        variables: { title, email: tenant.admin.email.toUpperCase() },
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await countConversations(tenant.id, title)).toBe(0);
    await expectPoolIdle(server);
  });

  it('rolls back a posted message and its messageCount when a later step fails', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'kept' } });
    const id = created.data!.createConversation.conversation.id;
    const result = await server.post(
      {
        query: `mutation($id: ID!, $bad: ID!) {
          a: postMessage(input: { conversationId: $id, body: "one" }) { message { id } }
          b: postMessage(input: { conversationId: $bad, body: "two" }) { message { id } }
        }`,
        variables: { id, bad: encodeGlobalId('Conversation', randomUUID()) },
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['NOT_FOUND']);
    const list = await api.request(ConversationsDocument, {});
    expect(list.data?.conversations.edges[0]?.node.messageCount).toBe(0);
  });

  it('commits every mutation of a document when all succeed', async () => {
    const tenant = await createTestTenant();
    const title = `kept ${randomUUID()}`;
    const result = await server.post(
      {
        query: `mutation($title: String!) {
          a: createConversation(input: { title: $title }) { conversation { id } }
          b: createConversation(input: { title: $title }) { conversation { id } }
        }`,
        variables: { title },
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors).toBeUndefined();
    expect(await countConversations(tenant.id, title)).toBe(2);
  });

  it('ends a query with a field error in ROLLBACK, still answering the other fields', async () => {
    const tenant = await createTestTenant();
    server.statements.length = 0;
    const result = await server.post(
      { query: '{ conversations { totalCount } conversation(id: "not-an-id") { id } }' },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.data.conversations.totalCount).toBe(0);
    expect(result.json.errors[0].path).toEqual(['conversation']);
    expect(server.statements[0]).toMatch(/^start transaction read only;/);
    expect(server.statements.at(-1)).toBe('rollback');
    expect(server.statements).not.toContain('commit');
    await expectPoolIdle(server);
  });

  it('rolls back and releases the connection when the user is not a member', async () => {
    const [home, other] = await Promise.all([createTestTenant(), createTestTenant()]);
    const { tokenFor } = await import('../support/tenants.js');
    server.statements.length = 0;
    const result = await server.post({ query: '{ viewer { user { id } } }' }, { authorization: `Bearer ${await tokenFor(home.id, other.admin.id)}` });
    expect(result.status).toBe(401);
    expect(server.statements).toEqual([expect.stringMatching(PROLOGUE), 'rollback']);
    await expectPoolIdle(server);
  });
});

describe('RequestTransaction: client disconnects', () => {
  let server: TestServer;
  const seen: string[] = [];
  /** Called with each statement as the server runs it; a test sets it to abort at the right moment. */
  let onStatement: (sql: string) => void = () => {};
  beforeAll(async () => {
    server = await startTestServer({
      observeStatement: (event) => {
        seen.push(event.sql);
        onStatement(event.sql);
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  /**
   * Sends the request on its own socket (no keep-alive agent) and destroys that socket the moment the server has
   * begun its transaction: the client is gone mid-request, as when a browser tab closes.
   */
  async function disconnectAfterBegin(token: string, body: unknown): Promise<void> {
    seen.length = 0;
    await new Promise<void>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const request = httpRequest(server.url, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: `Bearer ${token}` },
      });
      onStatement = (sql) => {
        // Only the request's own prologue (the audit trail's carries no user).
        if (sql.startsWith('start transaction') && sql.includes('app.enter_tenant(')) request.destroy();
      };
      request.on('response', () => reject(new Error('the server answered before the client disconnected')));
      request.on('error', () => {});
      request.on('close', () => resolve());
      request.end(payload);
    }).finally(() => {
      onStatement = () => {};
    });
  }

  it('does not commit a mutation whose client went away, and returns the connection', async () => {
    const tenant = await createTestTenant();
    const title = `aborted ${randomUUID()}`;
    const fields = Array.from({ length: 12 }, (_, i) => `m${i}: createConversation(input: { title: $title }) { conversation { id } }`);
    await disconnectAfterBegin(tenant.admin.token, { query: `mutation($title: String!) { ${fields.join('\n')} }`, variables: { title } });

    await expectPoolIdle(server);
    await vi.waitFor(() => expect(seen).toContain('rollback'));
    expect(seen[0]).toMatch(/^start transaction read write;/);
    expect(seen).not.toContain('commit');
    expect(await countConversations(tenant.id, title)).toBe(0);

    // The server keeps serving, on a clean connection.
    const after = await server.client(tenant.admin.token).request(ConversationsDocument, {});
    expect(after.errors).toBeUndefined();
    expect(after.data?.conversations.totalCount).toBe(0);
  });

  it('rolls back a query whose client went away, and returns the connection', async () => {
    const tenant = await createTestTenant();
    await disconnectAfterBegin(tenant.admin.token, {
      query: '{ viewer { user { id } } conversations(first: 50) { nodes { id messages(first: 5) { nodes { id author { id } } } } } }',
    });
    await expectPoolIdle(server);
    await vi.waitFor(() => expect(seen.at(-1)).toMatch(/^(rollback|commit)$/));
    await expectPoolIdle(server);
  });

  it('returns every connection after a burst of requests whose clients go away at random moments', async () => {
    const tenant = await createTestTenant();
    const payload = JSON.stringify({ query: 'mutation { createConversation(input: { title: "burst" }) { conversation { id } } }' });
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          new Promise<void>((resolve) => {
            const request = httpRequest(server.url, {
              method: 'POST',
              agent: false,
              headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: `Bearer ${tenant.admin.token}` },
            });
            request.on('error', () => {});
            request.on('close', () => resolve());
            request.on('response', (response) => response.resume());
            request.end(payload);
            setTimeout(() => request.destroy(), i % 5);
          }),
      ),
    );
    await expectPoolIdle(server);
    // Each mutation either committed whole or not at all; the server still answers.
    const after = await server.client(tenant.admin.token).request(ConversationsDocument, { first: 100 });
    expect(after.errors).toBeUndefined();
    expect(after.data!.conversations.totalCount).toBeLessThanOrEqual(10);
  });
});
