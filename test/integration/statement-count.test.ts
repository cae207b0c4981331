import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setTenantExternalId, setUserExternalSubject } from '../../src/admin/external-names.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { DashboardDocument } from '../../src/__generated__/sdk/graphql.js';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant, type TestUser } from '../support/tenants.js';

const CONVERSATIONS = 25;
const MESSAGES_PER_CONVERSATION = 7;

/**
 * The Dashboard query (conversations with messageCount, lastMessage { author } and messages(first: 5) { author })
 * must cost the same statements whatever the page size: the conversations page sees (lookahead) that its
 * conversations' lastMessage and first messages are selected, fetches them and their authors in its own
 * statement (a LATERAL per conversation) and primes the request's loaders with them, so neither the message
 * fields nor `Message.author` cost a statement of their own:
 *   1. the prologue (start transaction; app.enter_tenant: tenant, user, timeouts, membership)
 *   2. the conversations page with lastMessage and the first messages of every conversation, with their authors
 *   3. commit
 * messageCount is a column, so it costs nothing. They are 2 round trips: the prologue goes out with the first
 * statement (src/db/pipelined-prologue.ts), COMMIT on its own.
 */
const MESSAGES_LATERAL = (order: 'desc' | 'asc') =>
  `\\(select "messages"\\.\\*, "users"\\."id" as "author__id", .*` +
  `from "messages" inner join "users" on "users"\\."id" = "messages"\\."author_id" where "messages"\\."conversation_id" = "c"\\."id" ` +
  `order by "messages"\\."created_at" ${order}, "messages"\\."id" ${order} limit \\$\\d+\\) as "m"`;
const MESSAGES_WITH_AUTHORS = (order: 'desc' | 'asc') =>
  new RegExp(`^select "m"\\.\\* from unnest\\(\\$1::uuid\\[\\]\\) as c\\(id\\) cross join lateral ${MESSAGES_LATERAL(order)}$`, 's');
const CONVERSATIONS_WITH_MESSAGES = new RegExp(
  `^select "c"\\.\\*, "m"\\."id" as "message__id", .* from \\(select \\* from "conversations" where .*order by "created_at" desc, "id" desc limit \\$\\d+\\) as "c" ` +
    `left join lateral ${MESSAGES_LATERAL('desc')} on true order by "c"\\."created_at" desc, "c"\\."id" desc, "m"\\."created_at" desc, "m"\\."id" desc$`,
  's',
);
const DASHBOARD_STATEMENTS = [
  expect.stringMatching(/^start transaction read only;select \* from app\.enter_tenant\('[^']+',/),
  expect.stringMatching(CONVERSATIONS_WITH_MESSAGES),
  'commit',
];

/** The round trips of the requests themselves: the server's own plan lookups (member null) left out. */
function requestRoundTrips(server: TestServer): string[][] {
  return server.roundTrips.filter((texts) => !/app\.enter_tenant\('[^']+',null,/.test(texts[0]!));
}

/** A request's round trips when its prologue is sent with its first statement: [prologue, first], then one each. */
function pipelined(statements: readonly unknown[]): unknown[][] {
  return [[statements[0], statements[1]], ...statements.slice(2).map((statement) => [statement])];
}

/** A request's round trips when its prologue is sent on its own: one per statement. */
function oneByOne(statements: readonly unknown[]): unknown[][] {
  return statements.map((statement) => [statement]);
}

describe('Query.conversations (Dashboard statement count)', () => {
  let server: TestServer;
  let tenant: TestTenant;
  let authors: TestUser[];
  const displayNames = new Map<string, string>();
  beforeAll(async () => {
    server = await startTestServer();
    tenant = await createTestTenant();
    authors = [tenant.admin, await tenant.addUser(), await tenant.addUser(), await tenant.addUser()];
    // Owner-side bulk insert with explicit timestamps: conversation i is older than i - 1, message j of a
    // conversation is written by author (i + j) mod 4, so every page sees several authors.
    await withOwnerTransaction(inject('ownerUrl'), async (client) => {
      await enterTenant(client, tenant.id);
      await client.query(
        `insert into conversations (title, created_by, created_at)
         select 'Conversation ' || i, ($1::uuid[])[1 + i % 4], now() - make_interval(mins => i)
           from generate_series(1, $2::int) i`,
        [authors.map((a) => a.id), CONVERSATIONS],
      );
      await client.query(
        `insert into messages (conversation_id, author_id, body, created_at)
         select c.id, ($1::uuid[])[1 + (split_part(c.title, ' ', 2)::int + j) % 4], c.title || ' / message ' || j,
                c.created_at + make_interval(secs => j)
           from conversations c cross join generate_series(1, $2::int) j
          where c.tenant_id = $3`, // the owner bypasses RLS: without this it would see every tenant's rows
        [authors.map((a) => a.id), MESSAGES_PER_CONVERSATION, tenant.id],
      );
      const { rows } = await client.query<{ id: string; display_name: string }>('select id, display_name from users where tenant_id = $1', [
        tenant.id,
      ]);
      for (const row of rows) displayNames.set(row.id, row.display_name);
    });
  });
  afterAll(async () => {
    await server.close();
  });

  async function dashboard(first: number) {
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.client(tenant.admin.token).request(DashboardDocument, { first, messages: 5 });
    return { result, statements: [...server.statements], roundTrips: requestRoundTrips(server) };
  }

  it.each([2, 5, 20])('issues exactly 3 statements in 2 round trips for a page of %i conversations', async (first) => {
    const { result, statements, roundTrips } = await dashboard(first);
    expect(result.errors).toBeUndefined();
    expect(statements).toEqual(DASHBOARD_STATEMENTS);
    expect(roundTrips).toEqual(pipelined(DASHBOARD_STATEMENTS));

    // The answer is complete and right, so the count is not low because something was skipped.
    const nodes = result.data!.conversations.nodes;
    expect(nodes.map((n) => n.title)).toEqual(Array.from({ length: first }, (_, i) => `Conversation ${i + 1}`));
    for (const [index, node] of nodes.entries()) {
      const i = index + 1;
      const bodies = [7, 6, 5, 4, 3].map((j) => `Conversation ${i} / message ${j}`);
      expect(node.messageCount).toBe(MESSAGES_PER_CONVERSATION);
      expect(node.messages.nodes.map((m) => m.body)).toEqual(bodies);
      expect(node.lastMessage?.body).toBe(bodies[0]);
      expect(node.lastMessage?.id).toBe(node.messages.nodes[0]?.id);
      for (const [k, message] of node.messages.nodes.entries()) {
        const author = authors[(i + 7 - k) % 4]!;
        expect(message.author.id).toBe(encodeGlobalId('User', author.id));
        expect(message.author.displayName).toBe(displayNames.get(author.id));
      }
    }
    expect(new Set(nodes.flatMap((n) => n.messages.nodes.map((m) => m.author.id))).size).toBe(4);
  });

  it('issues the same 3 statements, in 3 round trips, when the token names the tenant and the user by their identity provider names', async () => {
    const org = `org_${randomUUID().slice(0, 12)}`;
    const subject = `auth0|${randomUUID()}`;
    await setTenantExternalId(inject('ownerUrl'), tenant.id, org);
    await setUserExternalSubject(inject('ownerUrl'), tenant.id, tenant.admin.id, subject);
    try {
      const token = await issueToken({ secret: TEST_JWT_SECRET, tenantId: org, userId: subject });
      server.statements.length = 0;
      server.roundTrips.length = 0;
      const result = await server.client(token).request(DashboardDocument, { first: 5, messages: 5 });
      expect(result.errors).toBeUndefined();
      expect(result.data!.conversations.nodes).toHaveLength(5);
      // The names are resolved inside the prologue: no statement before it, none added after it.
      expect(server.statements[0]).toMatch(new RegExp(`^start transaction read only;select \\* from app\\.enter_tenant\\('${org}','auth0\\|`));
      expect(server.statements).toEqual(DASHBOARD_STATEMENTS);
      // An external name is resolved by the prologue's own round trip (RequestTransaction keeps it on its own
      // when the tenant is not named by id).
      expect(requestRoundTrips(server)).toEqual(oneByOne(DASHBOARD_STATEMENTS));
    } finally {
      await setTenantExternalId(inject('ownerUrl'), tenant.id, null);
    }
  });

  it('issues the same statements for 2, 5 and 20 conversations', async () => {
    const counts = [];
    for (const first of [2, 5, 20]) counts.push((await dashboard(first)).statements.length);
    expect(counts).toEqual([3, 3, 3]);
  });

  it('stays at 3 statements with 20 messages per conversation', async () => {
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.client(tenant.admin.token).request(DashboardDocument, { first: 20, messages: 20 });
    expect(result.errors).toBeUndefined();
    expect(result.data!.conversations.nodes.every((n) => n.messages.nodes.length === MESSAGES_PER_CONVERSATION)).toBe(true);
    expect(server.statements).toEqual(DASHBOARD_STATEMENTS);
    expect(requestRoundTrips(server)).toEqual(pipelined(DASHBOARD_STATEMENTS));
  });
  it('answers a conversation without messages from the same statement: no lastMessage, no messages', async () => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    const created = await server.post({ query: 'mutation { createConversation(input: { title: "Empty" }) { conversation { id } } }' }, api);
    const id = created.json.data.createConversation.conversation.id as string;
    try {
      const { result, statements, roundTrips } = await dashboard(2);
      expect(statements).toEqual(DASHBOARD_STATEMENTS);
      expect(roundTrips).toEqual(pipelined(DASHBOARD_STATEMENTS));
      const [empty, full] = result.data!.conversations.nodes;
      expect(empty).toMatchObject({ id, title: 'Empty', messageCount: 0, lastMessage: null, messages: { nodes: [] } });
      expect(full!.messages.nodes.map((m) => m.body)).toEqual([7, 6, 5, 4, 3].map((j) => `Conversation 1 / message ${j}`));
    } finally {
      // Gone again, so the other tests see the seeded conversations only.
      await withOwnerTransaction(inject('ownerUrl'), async (client) => {
        await enterTenant(client, tenant.id);
        await client.query(`delete from conversations where tenant_id = $1 and title = 'Empty'`, [tenant.id]);
      });
    }
  });

  it('fetches the messages of the page itself only when they are selected', async () => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const titles = await server.post({ query: '{ conversations(first: 3) { nodes { title messageCount } } }' }, api);
    expect(titles.json.errors).toBeUndefined();
    const expected = [
      DASHBOARD_STATEMENTS[0],
      expect.stringMatching(/^select \* from "conversations" order by "created_at" desc, "id" desc limit \$1$/),
      'commit',
    ];
    expect(server.statements).toEqual(expected);
    expect(requestRoundTrips(server)).toEqual(pipelined(expected));
  });

  it('serves aliases and fragments of the message fields from the one statement, each its own window', async () => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.post(
      {
        query: `query ($n: Int) { conversations(first: 2, filter: { archived: false }) { edges { node { ...Parts } } } }
          fragment Parts on Conversation { title newest: messages(first: 1) { nodes { body } } more: messages(first: $n) { nodes { body author { id } } } lastMessage { body } }`,
        variables: { n: 3 },
      },
      api,
    );
    expect(result.json.errors).toBeUndefined();
    expect(server.statements).toEqual(DASHBOARD_STATEMENTS);
    expect(requestRoundTrips(server)).toEqual(pipelined(DASHBOARD_STATEMENTS));
    const [first] = result.json.data.conversations.edges;
    expect(first.node.newest.nodes.map((m: { body: string }) => m.body)).toEqual(['Conversation 1 / message 7']);
    expect(first.node.more.nodes.map((m: { body: string }) => m.body)).toEqual([7, 6, 5].map((j) => `Conversation 1 / message ${j}`));
    expect(first.node.lastMessage.body).toBe('Conversation 1 / message 7');
  });

  it('answers Query.conversation with its messages, their authors and conversations in one data statement', async () => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    const ids = await server.post({ query: '{ conversations(first: 2) { nodes { id } } }' }, api);
    const [newest, second] = ids.json.data.conversations.nodes.map((n: { id: string }) => n.id) as string[];
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.post(
      {
        query: `query ($a: ID!, $b: ID!, $missing: ID!) {
          a: conversation(id: $a) { title messageCount lastMessage { body } messages(first: 3) { nodes { body author { id displayName } conversation { id title } } } }
          b: conversation(id: $b) { title messages(first: 2) { edges { node { body } } } }
          missing: conversation(id: $missing) { title messages(first: 2) { nodes { body } } } }`,
        variables: { a: newest, b: second, missing: encodeGlobalId('Conversation', randomUUID()) },
      },
      api,
    );
    expect(result.json.errors).toBeUndefined();
    // Three conversations (one unknown) with their messages: one statement for all of them.
    const expected = [
      DASHBOARD_STATEMENTS[0],
      expect.stringMatching(
        /^select "c"\.\*, .* from \(select \* from "conversations" where "id" = any\(\$1::uuid\[\]\)\) as "c" left join lateral /s,
      ),
      'commit',
    ];
    expect(server.statements).toEqual(expected);
    expect(requestRoundTrips(server)).toEqual(pipelined(expected));
    const { a, b, missing } = result.json.data;
    expect(a.title).toBe('Conversation 1');
    expect(a.lastMessage.body).toBe('Conversation 1 / message 7');
    expect(a.messages.nodes.map((m: { body: string }) => m.body)).toEqual([7, 6, 5].map((j) => `Conversation 1 / message ${j}`));
    for (const [k, message] of a.messages.nodes.entries()) {
      const author = authors[(1 + 7 - k) % 4]!;
      expect(message.author).toEqual({ id: encodeGlobalId('User', author.id), displayName: displayNames.get(author.id) });
      expect(message.conversation).toEqual({ id: newest, title: 'Conversation 1' });
    }
    expect(b.messages.edges.map((e: { node: { body: string } }) => e.node.body)).toEqual([7, 6].map((j) => `Conversation 2 / message ${j}`));
    expect(missing).toBeNull();
  });

  it('posts a message in 5 statements and 5 round trips: its author comes with the insert, the conversation (new count) after it', async () => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    const ids = await server.post({ query: '{ conversations(first: 1) { nodes { id messageCount } } }' }, api);
    const [conversation] = ids.json.data.conversations.nodes as { id: string; messageCount: number }[];
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.post(
      {
        query: `mutation ($input: PostMessageInput!) { postMessage(input: $input) {
          message { id body author { id displayName } conversation { id messageCount } } } }`,
        variables: { input: { conversationId: conversation!.id, body: 'counted' } },
      },
      api,
    );
    try {
      expect(result.json.errors).toBeUndefined();
      expect(result.json.data.postMessage.message).toMatchObject({
        body: 'counted',
        author: { id: encodeGlobalId('User', tenant.admin.id), displayName: displayNames.get(tenant.admin.id) },
        conversation: { id: conversation!.id, messageCount: conversation!.messageCount + 1 },
      });
      const expected = [
        expect.stringMatching(/^start transaction read write;select \* from app\.enter_tenant\(/),
        expect.stringMatching(
          /^with "inserted" as \(insert into "messages" .* from "inserted" left join "users" on "users"\."id" = "inserted"\."author_id"$/s,
        ),
        'select * from "conversations" where "id" = any($1::uuid[])',
        expect.stringMatching(/^insert into "audit_events" /),
        'commit',
      ];
      expect(server.statements).toEqual(expected);
      // The insert names its author (viewerOf), which only the prologue's row says for certain (a subject shaped
      // like a user id may be an external subject): the prologue goes out on its own first.
      expect(requestRoundTrips(server)).toEqual(oneByOne(expected));
    } finally {
      await withOwnerTransaction(inject('ownerUrl'), async (client) => {
        await enterTenant(client, tenant.id);
        await client.query(`delete from messages where tenant_id = $1 and body = 'counted'`, [tenant.id]);
      });
    }
  });

  /**
   * A backward page (`last`/`before`) with nested `messages(last: 3)`: still one statement per relation per
   * level, whatever the page size. lastMessage walks forward and messages(last:) backward, so the messages
   * level costs two LATERAL statements (one per direction) instead of one, each with its authors:
   *   prologue, the conversations page (ascending scan), lastMessage (descending LATERAL), messages(last:)
   *   (ascending LATERAL), commit.
   */
  it.each([2, 5, 12])('issues exactly 5 statements in 4 round trips for a backward page of %i conversations with messages(last: 3)', async (last) => {
    const api = { authorization: `Bearer ${tenant.admin.token}` };
    const cursors = await server.post({ query: '{ conversations(first: 20) { edges { cursor } } }' }, api);
    const before = cursors.json.data.conversations.edges[19].cursor as string;
    server.statements.length = 0;
    server.roundTrips.length = 0;
    const result = await server.post(
      {
        query: `query ($last: Int, $before: String) { conversations(last: $last, before: $before) {
          pageInfo { hasPreviousPage hasNextPage }
          nodes { title lastMessage { body author { id } } messages(last: 3) { nodes { body author { id displayName } } } } } }`,
        variables: { last, before },
      },
      api,
    );
    expect(result.json.errors).toBeUndefined();
    const expected = [
      DASHBOARD_STATEMENTS[0],
      expect.stringMatching(/^select .* from "conversations" where .*order by "created_at" asc, "id" asc limit \$\d+$/s),
      expect.stringMatching(MESSAGES_WITH_AUTHORS('desc')),
      expect.stringMatching(MESSAGES_WITH_AUTHORS('asc')),
      'commit',
    ];
    expect(server.statements).toEqual(expected);
    expect(requestRoundTrips(server)).toEqual(pipelined(expected));

    // Conversations 20 - last .. 19 (Conversation 1 is the newest), in the list's normal order.
    const page = result.json.data.conversations;
    expect(page.pageInfo).toEqual({ hasPreviousPage: 20 - last > 1, hasNextPage: true });
    expect(page.nodes.map((n: { title: string }) => n.title)).toEqual(Array.from({ length: last }, (_, k) => `Conversation ${20 - last + k}`));
    for (const node of page.nodes) {
      // The oldest three messages, newest first.
      expect(node.messages.nodes.map((m: { body: string }) => m.body)).toEqual([3, 2, 1].map((j) => `${node.title} / message ${j}`));
      expect(node.lastMessage.body).toBe(`${node.title} / message ${MESSAGES_PER_CONVERSATION}`);
    }
  });
});
