import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveConversationDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  InviteUserDocument,
  NodeDocument,
  PostMessageDocument,
  RenameConversationDocument,
  UsersDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/** Cursors the API could never have returned, each well-formed base64url so only the decoding can catch them. */
function rawCursor(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
}

const MALFORMED_CURSORS: [string, string][] = [
  ['plain text', 'not-a-cursor'],
  ['base64 of text', rawCursor('hello')],
  ['a JSON object', rawCursor({ createdAt: '2024-01-01 00:00:00+00', id: randomUUID() })],
  ['three elements', rawCursor(['2024-01-01 00:00:00+00', randomUUID(), 'x'])],
  ['a non-UUID id', rawCursor(['2024-01-01 00:00:00+00', '1 or 1=1'])],
  ['SQL in the timestamp', rawCursor(["2024-01-01'); select 1; --", randomUUID()])],
  ['month 13', rawCursor(['2024-13-01 00:00:00+00', randomUUID()])],
  ['February 30th', rawCursor(['2023-02-30 00:00:00+00', randomUUID()])],
  ['hour 25', rawCursor(['2024-01-01 25:00:00+00', randomUUID()])],
  ['year 0', rawCursor(['0000-01-01 00:00:00+00', randomUUID()])],
  ['an offset of 99 hours', rawCursor(['2024-01-01 00:00:00+99', randomUUID()])],
  ['a NUL byte', rawCursor(['2024-01-01 00:00:00+00\u0000', randomUUID()])],
  ['over-long input', 'A'.repeat(5000)],
];

describe('BAD_USER_INPUT', () => {
  let server: TestServer;
  let tenant: TestTenant;
  let conversationId: string;
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await createTestTenant();
    const created = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'Existing' } });
    conversationId = created.data!.createConversation.conversation.id;
  });
  afterAll(async () => {
    await server.close();
  });

  function expectBadUserInput(
    result: { status: number; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] },
    message: RegExp,
  ) {
    expect(result.status).toBe(200);
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(message);
    // Every input error names the argument or input field at fault (issue 11 §3).
    expect(result.errors?.[0]?.extensions?.field, 'extensions.field').toMatch(/^[a-zA-Z]+$/);
  }

  it.each([
    ['empty', '', /`title` must not be empty/],
    ['blank', ' \t\n ', /`title` must not be empty/],
    ['over-long', 'x'.repeat(201), /`title` must be at most 200 characters, received 201/],
    ['over-long in code points', '😀'.repeat(201), /at most 200 characters, received 201/],
  ])('Mutation.createConversation answers BAD_USER_INPUT for an %s title', async (_case, title, message) => {
    const result = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title } });
    expectBadUserInput(result, message);
  });

  it('Mutation.createConversation accepts a title of exactly 200 characters (200 emoji included)', async () => {
    const api = server.client(tenant.admin.token);
    for (const title of ['x'.repeat(200), '😀'.repeat(200)]) {
      const result = await api.request(CreateConversationDocument, { input: { title } });
      expect(result.errors).toBeUndefined();
      expect(result.data?.createConversation.conversation.title).toBe(title);
    }
  });

  it.each([
    ['empty', '', /`title` must not be empty/],
    ['over-long', 'y'.repeat(201), /at most 200 characters/],
  ])('Mutation.renameConversation answers BAD_USER_INPUT for an %s title and keeps the old one', async (_case, title, message) => {
    const api = server.client(tenant.admin.token);
    expectBadUserInput(await api.request(RenameConversationDocument, { input: { id: conversationId, title } }), message);
    const view = await api.request(ConversationDocument, { id: conversationId });
    expect(view.data?.conversation?.title).toBe('Existing');
  });

  it.each([
    ['empty', '', /`body` must not be empty/],
    ['blank', '   ', /`body` must not be empty/],
    ['over-long', 'b'.repeat(10_001), /`body` must be at most 10000 characters, received 10001/],
  ])('Mutation.postMessage answers BAD_USER_INPUT for an %s body', async (_case, body, message) => {
    const result = await server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId, body } });
    expectBadUserInput(result, message);
  });

  it.each(['not-an-email', 'a@b', '@example.test', 'two@@example.test', 'with space@example.test', ''])(
    'Mutation.inviteUser answers BAD_USER_INPUT for the email %j',
    async (email) => {
      const result = await server.client(tenant.admin.token).request(InviteUserDocument, { input: { email, displayName: 'X' } });
      expectBadUserInput(result, /`email` must (be an email address|not be empty)/);
    },
  );

  it.each([
    ['not base64url', 'not an id!'],
    ['base64 of garbage', Buffer.from('garbage').toString('base64url')],
    ['an unknown type', encodeGlobalId('Conversation', randomUUID()).replace(/^Q29u/, 'WFla')],
    ['a non-UUID local id', Buffer.from('Conversation:1').toString('base64url')],
    ['SQL in the local id', Buffer.from("Conversation:1' or '1'='1").toString('base64url')],
    ['empty', ''],
    ['over-long', 'Q'.repeat(5000)],
  ])('Query.conversation answers BAD_USER_INPUT for a malformed id (%s)', async (_case, id) => {
    const result = await server.client(tenant.admin.token).request(ConversationDocument, { id });
    expectBadUserInput(result, /Invalid id .*expected an id returned by this API/);
    expect(JSON.stringify(result.errors)).not.toContain('Q'.repeat(100));
  });

  it('Query.node answers BAD_USER_INPUT for a malformed id', async () => {
    const result = await server.client(tenant.admin.token).request(NodeDocument, { id: 'nope' });
    expectBadUserInput(result, /Invalid id/);
  });

  it('Query.conversation answers BAD_USER_INPUT naming both types for an id of the wrong type', async () => {
    const result = await server.client(tenant.admin.token).request(ConversationDocument, { id: encodeGlobalId('User', tenant.admin.id) });
    expectBadUserInput(result, /expected a Conversation id, received a User id/);
  });

  it('Mutation.postMessage answers BAD_USER_INPUT for a Message id where a Conversation id belongs', async () => {
    const api = server.client(tenant.admin.token);
    const posted = await api.request(PostMessageDocument, { input: { conversationId, body: 'hi' } });
    const messageId = posted.data!.postMessage.message.id;
    const result = await api.request(PostMessageDocument, { input: { conversationId: messageId, body: 'hi' } });
    expectBadUserInput(result, /expected a Conversation id, received a Message id/);
  });

  it.each(MALFORMED_CURSORS)('Query.conversations answers BAD_USER_INPUT for a malformed cursor (%s)', async (_case, after) => {
    const result = await server.client(tenant.admin.token).request(ConversationsDocument, { after });
    expectBadUserInput(result, /Invalid cursor/);
  });

  it.each(MALFORMED_CURSORS.slice(0, 3))(
    'Query.users and Conversation.messages answer BAD_USER_INPUT for a malformed cursor (%s)',
    async (_case, after) => {
      const api = server.client(tenant.admin.token);
      expectBadUserInput(await api.request(UsersDocument, { after }), /Invalid cursor/);
      const view = await api.request(ConversationDocument, { id: conversationId, after });
      expect(view.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(view.errors?.[0]?.path).toEqual(['conversation', 'messages']);
    },
  );

  it.each([
    ['Query.conversations', (first: number) => server.client(tenant.admin.token).request(ConversationsDocument, { first })],
    ['Query.users', (first: number) => server.client(tenant.admin.token).request(UsersDocument, { first })],
  ])('%s answers BAD_USER_INPUT naming the limit 100 when first is 101 or negative', async (_field, request) => {
    expectBadUserInput(await request(101), /`first` must be between 0 and 100, received 101/);
    expectBadUserInput(await request(-1), /`first` must be between 0 and 100, received -1/);
    const ok = await request(100);
    expect(ok.errors).toBeUndefined();
  });

  it('Conversation.messages answers BAD_USER_INPUT naming the limit 100 when first is 101', async () => {
    const result = await server.client(tenant.admin.token).request(ConversationDocument, { id: conversationId, first: 101 });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/between 0 and 100, received 101/);
  });
});

describe('NUL bytes and lone surrogates', () => {
  let server: TestServer;
  let tenant: TestTenant;
  let conversationId: string;
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await createTestTenant();
    const created = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'Chat' } });
    conversationId = created.data!.createConversation.conversation.id;
  });
  afterAll(async () => {
    await server.close();
  });

  const createTitle = 'mutation($title: String!) { createConversation(input: { title: $title }) { conversation { id } } }';
  const postBody = 'mutation($id: ID!, $body: String!) { postMessage(input: { conversationId: $id, body: $body }) { message { id } } }';
  const invite = 'mutation($email: String!, $name: String!) { inviteUser(input: { email: $email, displayName: $name }) { user { id } } }';
  const search = 'query($q: String!) { conversations(filter: { titleContains: $q }) { totalCount } }';

  it.each([
    ['a title with NUL', createTitle, () => ({ title: 'a\u0000b' }), /`title` must not contain NUL/],
    ['a title with a lone high surrogate', createTitle, () => ({ title: 'a\ud800b' }), /`title` must be valid Unicode/],
    ['a title with a lone low surrogate', createTitle, () => ({ title: '\udc00' }), /`title` must be valid Unicode/],
    ['a body with NUL', postBody, () => ({ id: conversationId, body: '\u0000' }), /`body` must not contain NUL/],
    ['a body with a lone surrogate', postBody, () => ({ id: conversationId, body: 'x\ud83dy' }), /`body` must be valid Unicode/],
    ['an email with NUL', invite, () => ({ email: 'a\u0000@example.test', name: 'A' }), /`email` must not contain NUL/],
    ['a display name with a lone surrogate', invite, () => ({ email: 'a@example.test', name: '\ud800' }), /`displayName` must be valid Unicode/],
    ['a title filter with NUL', search, () => ({ q: '\u0000' }), /`titleContains` must not contain NUL/],
    ['a title filter with a lone surrogate', search, () => ({ q: '\udfff' }), /`titleContains` must be valid Unicode/],
    ['an id with NUL', postBody, () => ({ id: `${conversationId}\u0000`, body: 'x' }), /Invalid id/],
  ])('answers BAD_USER_INPUT for %s in variables', async (_case, query, variables, message) => {
    // JSON.stringify writes lone surrogates as \\udXXX escapes, which JSON.parse on the server turns back into them.
    const result = await server.post({ query, variables: variables() }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(result.status).toBe(200);
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(result.json.errors[0].message).toMatch(message);
  });

  it('answers BAD_USER_INPUT for a NUL written as an escape inside the query text', async () => {
    const result = await server.post(
      { query: 'mutation { createConversation(input: { title: "a\\u0000b" }) { conversation { id } } }' },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.status).toBe(200);
    expect(result.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('answers a 400 parse error, not a 500, for a lone surrogate escape or a raw NUL inside the query text', async () => {
    for (const query of [
      'mutation { createConversation(input: { title: "\\ud800" }) { conversation { id } } }',
      '{ viewer\u0000 { user { id } } }',
    ]) {
      const result = await server.post({ query }, { authorization: `Bearer ${tenant.admin.token}` });
      expect(result.status).toBe(400);
      expect(result.json.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    }
  });

  it('writes nothing for any of them', async () => {
    const list = await server.client(tenant.admin.token).request(ConversationsDocument, {});
    expect(list.data?.conversations.totalCount).toBe(1);
    expect(list.data?.conversations.edges[0]?.node.messageCount).toBe(0);
    const users = await server.client(tenant.admin.token).request(UsersDocument, {});
    expect(users.data?.users.totalCount).toBe(1);
  });
});

describe('NOT_FOUND', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers NOT_FOUND from every mutation for an unknown conversation id, echoing only the id', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const id = encodeGlobalId('Conversation', randomUUID());
    const results = [
      await api.request(RenameConversationDocument, { input: { id, title: 'New' } }),
      await api.request(ArchiveConversationDocument, { input: { id } }),
      await api.request(PostMessageDocument, { input: { conversationId: id, body: 'hello' } }),
    ];
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      expect(result.errors?.[0]?.message).toBe(`No conversation with id ${JSON.stringify(id)} exists.`);
    }
  });

  it("answers another tenant's conversation id exactly like an unknown one, and changes nothing", async () => {
    const [mine, theirs] = await Promise.all([createTestTenant(), createTestTenant()]);
    const created = await server.client(theirs.admin.token).request(CreateConversationDocument, { input: { title: 'Theirs' } });
    const foreignId = created.data!.createConversation.conversation.id;
    const api = server.client(mine.admin.token);
    const rename = await api.request(RenameConversationDocument, { input: { id: foreignId, title: 'Mine now' } });
    const post = await api.request(PostMessageDocument, { input: { conversationId: foreignId, body: 'hello' } });
    expect(rename.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(post.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(post.errors?.[0]?.message).toBe(`No conversation with id ${JSON.stringify(foreignId)} exists.`);
    const view = await server.client(theirs.admin.token).request(ConversationDocument, { id: foreignId });
    expect(view.data?.conversation).toMatchObject({ title: 'Theirs', messageCount: 0 });
  });

  it('answers null, not an error, from Query.node and Query.conversation for an unknown id', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const id = encodeGlobalId('Conversation', randomUUID());
    const node = await api.request(NodeDocument, { id });
    const conversation = await api.request(ConversationDocument, { id });
    expect(node.errors).toBeUndefined();
    expect(node.data?.node).toBeNull();
    expect(conversation.errors).toBeUndefined();
    expect(conversation.data?.conversation).toBeNull();
  });
});

describe('Error responses in production', () => {
  let server: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    server = await startTestServer({ production: true, introspection: false });
    tenant = await createTestTenant();
  });
  afterAll(async () => {
    await server.close();
  });

  /** Anything that would tell an attacker about our SQL, schema internals or code. */
  const LEAKS =
    /\b(select|insert|update|delete|where|from)\b|users_tenant_email_key|constraint|duplicate key|relation|violates|sqlstate|stacktrace|\.ts:\d|node_modules|at async|tenant context|set_config|enter_tenant|pg_/i;

  it('leaks no SQL, constraint name or stack trace across every kind of error', async () => {
    const auth = { authorization: `Bearer ${tenant.admin.token}` };
    await server.client(tenant.admin.token).request(InviteUserDocument, { input: { email: 'dup@example.test', displayName: 'Dup' } });
    const unknownId = encodeGlobalId('Conversation', randomUUID());
    const requests: [string, unknown, Record<string, string>][] = [
      ['unique violation', { query: 'mutation { inviteUser(input: { email: "DUP@example.test", displayName: "Dup" }) { user { id } } }' }, auth],
      ['not found', { query: `mutation { postMessage(input: { conversationId: "${unknownId}", body: "x" }) { message { id } } }` }, auth],
      ['bad input', { query: 'mutation { createConversation(input: { title: "" }) { conversation { id } } }' }, auth],
      ['bad cursor', { query: `{ conversations(after: "${MALFORMED_CURSORS[7]![1]}") { totalCount } }` }, auth],
      ['forbidden', { query: '{ viewer { user { id } } }' }, { authorization: 'Bearer x.y.z' }],
      ['parse error', { query: '{ viewer { ' }, auth],
      ['validation error', { query: '{ viewer { user { passwordHash } } }' }, auth],
      ['unknown variable type', { query: 'query($x: Nope) { viewer { user { id } } }' }, auth],
      ['bad variable value', { query: 'query($f: Int) { conversations(first: $f) { totalCount } }', variables: { f: 'many' } }, auth],
    ];
    for (const [name, body, headers] of requests) {
      const result = await server.post(body, headers);
      const text = JSON.stringify(result.json);
      // One error each; graphql-js reports an unknown variable type twice (the unknown type, and a variable of a
      // type that is not an input type).
      expect(result.json.errors, name).toHaveLength(name === 'unknown variable type' ? 2 : 1);
      expect(text, name).not.toMatch(LEAKS);
    }
  });

  it('does not suggest field names in production', async () => {
    const result = await server.post({ query: '{ viewer { user { emai } } }' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.json)).not.toMatch(/Did you mean/);
  });
});

describe('Unexpected errors', () => {
  it('are masked as INTERNAL_SERVER_ERROR without details, and the connection goes back to the pool', async () => {
    // A timeout above PostgreSQL's maximum makes beginning the transaction fail with an error no mapping knows:
    // the path every unexpected error takes. (The idle timeout: the statement timeout is capped by the plan's.)
    const server = await startTestServer({ production: true, transaction: { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 2 ** 31 } });
    try {
      const tenant = await createTestTenant();
      const result = await server.post({ query: '{ viewer { user { id } } }' }, { authorization: `Bearer ${tenant.admin.token}` });
      expect(result.json.errors).toEqual([
        {
          message: 'Internal server error; it has been logged with the request id.',
          path: ['viewer', 'user'],
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        },
      ]);
      expect(JSON.stringify(result.json)).not.toMatch(/statement_timeout|2147483648|stacktrace/);
      expect(server.database.pool.totalCount).toBe(server.database.pool.idleCount);
    } finally {
      await server.close();
    }
  });
});

describe('HTTP layer', () => {
  let server: TestServer;
  let production: TestServer;
  let tenant: TestTenant;
  beforeAll(async () => {
    [server, production] = await Promise.all([startTestServer(), startTestServer({ production: true, introspection: false })]);
    tenant = await createTestTenant();
  });
  afterAll(async () => {
    await Promise.all([server.close(), production.close()]);
  });

  const origin = (s: TestServer) => new URL(s.url).origin;

  it('answers 413 to a body over 1 MB declared in content-length, without SQL', async () => {
    server.statements.length = 0;
    const body = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1_100_000) } });
    const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]?.message).toMatch(/exceeds the limit of 1000000 bytes/);
    expect(server.statements).toEqual([]);
  });

  it('answers 413 to a streamed body over 1 MB without content-length', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }","pad":"'));
        if (sent > 2_000_000) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it('answers 400 to a body that is not JSON', async () => {
    for (const body of ['{"query": "{ __typename }"', 'query { __typename }', '{"query":']) {
      const result = await server.post(body);
      expect(result.status).toBe(400);
      expect(result.json.errors[0].message).toMatch(/not valid JSON/);
    }
  });

  it('refuses a batched (array) request without running SQL', async () => {
    server.statements.length = 0;
    const query = '{ viewer { user { id } } }';
    const result = await server.post([{ query }, { query }], { authorization: `Bearer ${tenant.admin.token}` });
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.json)).toMatch(/batching/i);
    expect(server.statements).toEqual([]);
  });

  it('answers GET /health with 200 {"status":"ok"}', async () => {
    const response = await fetch(`${origin(server)}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers 404 to an unknown path', async () => {
    for (const path of ['/', '/graphql/extra', '/healthz', '/admin']) {
      const response = await fetch(`${origin(server)}${path}`);
      expect(response.status, path).toBe(404);
    }
  });

  it('serves the Apollo Sandbox landing page to a browser in development', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/<!DOCTYPE html>/i);
    expect(html).toContain('<div id="embeddableSandbox"></div>');
    expect(html).toMatch(/embeddable-sandbox\.umd\.production\.min\.js/);
    expect(html).toContain('new window.EmbeddedSandbox(');
  });

  it('serves no Sandbox in production', async () => {
    const response = await fetch(production.url, { headers: { accept: 'text/html' } });
    const html = await response.text();
    expect(html).not.toContain('embeddableSandbox');
    expect(html).not.toContain('EmbeddedSandbox');
  });

  function preflight(s: TestServer, from: string) {
    return fetch(s.url, {
      method: 'OPTIONS',
      headers: {
        origin: from,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
  }

  it('allows a CORS preflight from Apollo Studio in development', async () => {
    const response = await preflight(server, 'https://studio.apollographql.com');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://studio.apollographql.com');
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/content-type/);
  });

  it('answers a POST from Apollo Studio with its origin allowed', async () => {
    const result = await fetch(server.url, {
      method: 'POST',
      headers: { origin: 'https://studio.apollographql.com', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(result.status).toBe(200);
    expect(result.headers.get('access-control-allow-origin')).toBe('https://studio.apollographql.com');
  });

  it('does not allow other origins, nor Apollo Studio in production', async () => {
    const other = await preflight(server, 'https://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const studioInProduction = await preflight(production, 'https://studio.apollographql.com');
    expect(studioInProduction.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('blocks a "simple" text/plain POST with CSRF prevention, even with a token, and writes nothing', async () => {
    server.statements.length = 0;
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${tenant.admin.token}` },
      body: JSON.stringify({ query: 'mutation { createConversation(input: { title: "csrf" }) { conversation { id } } }' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/);
    expect(server.statements).toEqual([]);
    const list = await server.client(tenant.admin.token).request(ConversationsDocument, { filter: { titleContains: 'csrf' } });
    expect(list.data?.conversations.totalCount).toBe(0);
  });

  it('blocks a GET query without a preflight header, and answers it with apollo-require-preflight', async () => {
    const url = `${server.url}?query=${encodeURIComponent('{ __typename }')}`;
    const blocked = await fetch(url);
    expect(blocked.status).toBe(400);
    expect(await blocked.text()).toMatch(/CSRF/);
    const allowed = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a mutation over GET', async () => {
    const query = encodeURIComponent('mutation { createConversation(input: { title: "get" }) { conversation { id } } }');
    const response = await fetch(`${server.url}?query=${query}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${tenant.admin.token}` },
    });
    expect(response.status).toBe(405);
  });
});
