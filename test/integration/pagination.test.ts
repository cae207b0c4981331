import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  AuditEventsDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  PostMessageDocument,
  NewerMessagesDocument,
  UsersDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { encodeGlobalId, type NodeType } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

interface Page {
  ids: string[];
  cursors: string[];
  hasNextPage: boolean;
  endCursor: string | null | undefined;
  totalCount: number;
}

type FetchPage = (after: string | null) => Promise<Page>;

/** Follows endCursor until hasNextPage is false; fails on a runaway walk. */
async function walk(fetchPage: FetchPage): Promise<Page[]> {
  const pages: Page[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await fetchPage(after);
    pages.push(page);
    if (!page.hasNextPage) return pages;
    expect(page.endCursor).toBeTruthy();
    after = page.endCursor!;
    if (pages.length > 100) throw new Error('pagination did not end');
  }
}

/** Runs SQL as the owner inside the tenant's context (the ground truth the API is compared with). */
function asOwner<T>(tenantId: string, work: (query: (sql: string, params?: unknown[]) => Promise<any[]>) => Promise<T>): Promise<T> {
  return withOwnerTransaction(inject('ownerUrl'), async (client) => {
    await enterTenant(client, tenantId);
    return work(async (sql, params = []) => (await client.query(sql, params)).rows);
  });
}

async function expectedIds(tenantId: string, type: NodeType, sql: string, params: unknown[] = []): Promise<string[]> {
  const rows = await asOwner(tenantId, (query) => query(sql, [tenantId, ...params]));
  return rows.map((row: { id: string }) => encodeGlobalId(type, row.id));
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('Query.conversations', () => {
  const conversationsPage =
    (tenant: TestTenant, first: number | undefined, filter?: { archived?: boolean; titleContains?: string }): FetchPage =>
    async (after) => {
      const result = await server.client(tenant.admin.token).request(ConversationsDocument, {
        ...(first === undefined ? {} : { first }),
        ...(after ? { after } : {}),
        ...(filter ? { filter } : {}),
      });
      expect(result.errors).toBeUndefined();
      const c = result.data!.conversations;
      return {
        ids: c.edges.map((e) => e.node.id),
        cursors: c.edges.map((e) => e.cursor),
        hasNextPage: c.pageInfo.hasNextPage,
        endCursor: c.pageInfo.endCursor,
        totalCount: c.totalCount,
      };
    };
  const newestFirst = 'select id from conversations where tenant_id = $1 order by created_at desc, id desc';

  async function createConversations(tenant: TestTenant, titles: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const title of titles) {
      const created = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title } });
      ids.push(created.data!.createConversation.conversation.id);
    }
    return ids;
  }

  it('lists newest first across pages of 2 with no duplicate and no gap', async () => {
    const tenant = await createTestTenant();
    const ids = await createConversations(tenant, ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']);
    const pages = await walk(conversationsPage(tenant, 2));

    expect(pages.map((p) => p.ids.length)).toEqual([2, 2, 2, 1]);
    expect(pages.flatMap((p) => p.ids)).toEqual([...ids].reverse());
    expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, true, false]);
    for (const page of pages) {
      expect(page.totalCount).toBe(7);
      expect(page.endCursor).toBe(page.cursors.at(-1));
    }
  });

  it('orders rows that share one created_at by id, and pages through them without loss', async () => {
    const tenant = await createTestTenant();
    // One transaction: now() is the same for every row, so only the id breaks the tie.
    await asOwner(tenant.id, (query) =>
      query(`insert into conversations (title, created_by) select 'same ' || i, $1 from generate_series(1, 9) i`, [tenant.admin.id]),
    );
    const pages = await walk(conversationsPage(tenant, 2));
    const walked = pages.flatMap((p) => p.ids);
    expect(walked).toEqual(await expectedIds(tenant.id, 'Conversation', newestFirst));
    expect(new Set(walked).size).toBe(9);
    expect(pages).toHaveLength(5);
  });

  it('keeps later pages stable when newer rows are inserted between fetches', async () => {
    const tenant = await createTestTenant();
    const ids = await createConversations(tenant, ['o1', 'o2', 'o3', 'o4', 'o5', 'o6']);
    const fetchPage = conversationsPage(tenant, 2);
    const first = await fetchPage(null);
    expect(first.ids).toEqual([ids[5], ids[4]]);

    const newer = await createConversations(tenant, ['n1', 'n2', 'n3']);
    const second = await fetchPage(first.endCursor!);
    const third = await fetchPage(second.endCursor!);
    expect(second.ids).toEqual([ids[3], ids[2]]);
    expect(third.ids).toEqual([ids[1], ids[0]]);
    expect(third.hasNextPage).toBe(false);
    expect(second.totalCount).toBe(9);

    // A fresh walk sees everything once, newest first.
    const all = (await walk(fetchPage)).flatMap((p) => p.ids);
    expect(all).toEqual([...newer].reverse().concat([...ids].reverse()));
  });

  it('shows a row inserted behind the cursor on a later page, shifting nothing', async () => {
    const tenant = await createTestTenant();
    const ids = await createConversations(tenant, ['a', 'b', 'c', 'd']);
    const fetchPage = conversationsPage(tenant, 2);
    const first = await fetchPage(null);
    const [old] = await asOwner(tenant.id, (query) =>
      query(`insert into conversations (title, created_by, created_at) values ('older', $1, now() - interval '1 day') returning id`, [
        tenant.admin.id,
      ]),
    );
    const rest = await walk(async (after) => fetchPage(after ?? first.endCursor!));
    expect(first.ids.concat(rest.flatMap((p) => p.ids))).toEqual([ids[3], ids[2], ids[1], ids[0], encodeGlobalId('Conversation', old.id)]);
  });

  it('pages a filtered list with a filtered totalCount', async () => {
    const tenant = await createTestTenant();
    const ids = await createConversations(tenant, ['alpha 1', 'beta 1', 'alpha 2', 'beta 2', 'alpha 3', 'alpha 4', 'alpha 5']);
    const pages = await walk(conversationsPage(tenant, 2, { titleContains: 'ALPHA', archived: false }));
    expect(pages.flatMap((p) => p.ids)).toEqual([ids[6], ids[5], ids[4], ids[2], ids[0]]);
    expect(pages.every((p) => p.totalCount === 5)).toBe(true);
    expect(pages).toHaveLength(3);
  });

  it('answers first: 0 with no rows, hasNextPage true and no endCursor when rows exist', async () => {
    const tenant = await createTestTenant();
    await createConversations(tenant, ['only']);
    const page = await conversationsPage(tenant, 0)(null);
    expect(page).toMatchObject({ ids: [], hasNextPage: true, endCursor: null, totalCount: 1 });

    const empty = await createTestTenant();
    expect(await conversationsPage(empty, 0)(null)).toMatchObject({ ids: [], hasNextPage: false, endCursor: null, totalCount: 0 });
    expect(await conversationsPage(empty, 2)(null)).toMatchObject({ ids: [], hasNextPage: false, endCursor: null, totalCount: 0 });
  });

  it('returns 20 rows by default, then the rest', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(
        `insert into conversations (title, created_by, created_at)
         select 'bulk ' || i, $1, now() - make_interval(secs => i) from generate_series(1, 23) i`,
        [tenant.admin.id],
      ),
    );
    const pages = await walk(conversationsPage(tenant, undefined));
    expect(pages.map((p) => p.ids.length)).toEqual([20, 3]);
    expect(pages.flatMap((p) => p.ids)).toEqual(await expectedIds(tenant.id, 'Conversation', newestFirst));
  });

  it('pages 100 rows at once when asked', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(
        `insert into conversations (title, created_by, created_at)
         select 'bulk ' || i, $1, now() - make_interval(secs => i) from generate_series(1, 101) i`,
        [tenant.admin.id],
      ),
    );
    const pages = await walk(conversationsPage(tenant, 100));
    expect(pages.map((p) => p.ids.length)).toEqual([100, 1]);
    expect(pages.flatMap((p) => p.ids)).toEqual(await expectedIds(tenant.id, 'Conversation', newestFirst));
  });
});

describe('Query.users', () => {
  const usersPage =
    (tenant: TestTenant, first: number | undefined): FetchPage =>
    async (after) => {
      const result = await server.client(tenant.admin.token).request(UsersDocument, {
        ...(first === undefined ? {} : { first }),
        ...(after ? { after } : {}),
      });
      expect(result.errors).toBeUndefined();
      const u = result.data!.users;
      return {
        ids: u.nodes.map((n) => n.id),
        cursors: [],
        hasNextPage: u.pageInfo.hasNextPage,
        endCursor: u.pageInfo.endCursor,
        totalCount: u.totalCount,
      };
    };
  const oldestFirst = 'select id from users where tenant_id = $1 order by created_at, id';

  it('lists members oldest first across pages of 2 with no duplicate and no gap', async () => {
    const tenant = await createTestTenant();
    const added = [];
    for (let i = 0; i < 4; i++) added.push(await tenant.addUser());
    const pages = await walk(usersPage(tenant, 2));
    expect(pages.flatMap((p) => p.ids)).toEqual([tenant.admin, ...added].map((u) => encodeGlobalId('User', u.id)));
    expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
    expect(pages.every((p) => p.totalCount === 5)).toBe(true);
  });

  it('puts members added between fetches at the end, repeating and skipping no one', async () => {
    const tenant = await createTestTenant();
    const before = [tenant.admin];
    for (let i = 0; i < 3; i++) before.push(await tenant.addUser());
    const fetchPage = usersPage(tenant, 2);
    const first = await fetchPage(null);
    const late = await tenant.addUser();
    const rest = await walk(async (after) => fetchPage(after ?? first.endCursor!));
    expect(first.ids.concat(rest.flatMap((p) => p.ids))).toEqual([...before, late].map((u) => encodeGlobalId('User', u.id)));
    expect(rest[0]!.totalCount).toBe(5);
  });

  it('orders members that share one created_at by id', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(`insert into users (email, display_name) select 'same' || i || '@example.test', 'Same ' || i from generate_series(1, 6) i`),
    );
    const walked = (await walk(usersPage(tenant, 2))).flatMap((p) => p.ids);
    expect(walked).toEqual(await expectedIds(tenant.id, 'User', oldestFirst));
    expect(new Set(walked).size).toBe(7);
  });

  it('answers first: 0 with no rows, and returns 20 by default', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(
        `insert into users (email, display_name, created_at)
         select 'bulk' || i || '@example.test', 'Bulk ' || i, now() + make_interval(secs => i) from generate_series(1, 21) i`,
      ),
    );
    expect(await usersPage(tenant, 0)(null)).toMatchObject({ ids: [], hasNextPage: true, endCursor: null, totalCount: 22 });
    const pages = await walk(usersPage(tenant, undefined));
    expect(pages.map((p) => p.ids.length)).toEqual([20, 2]);
    expect(pages.flatMap((p) => p.ids)).toEqual(await expectedIds(tenant.id, 'User', oldestFirst));
  });
});

describe('Conversation.messages', () => {
  const messagesPage =
    (tenant: TestTenant, conversationId: string, first: number | undefined): FetchPage =>
    async (after) => {
      const result = await server.client(tenant.admin.token).request(ConversationDocument, {
        id: conversationId,
        ...(first === undefined ? {} : { first }),
        ...(after ? { after } : {}),
      });
      expect(result.errors).toBeUndefined();
      const m = result.data!.conversation!.messages;
      return {
        ids: m.edges.map((e) => e.node.id),
        cursors: m.edges.map((e) => e.cursor),
        hasNextPage: m.pageInfo.hasNextPage,
        endCursor: m.pageInfo.endCursor,
        totalCount: m.totalCount,
      };
    };
  const newestFirst = 'select id from messages where tenant_id = $1 and conversation_id = $2 order by created_at desc, id desc';

  async function conversationWithMessages(tenant: TestTenant, count: number): Promise<{ id: string; messageIds: string[] }> {
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'Paged' } });
    const id = created.data!.createConversation.conversation.id;
    const messageIds: string[] = [];
    for (let i = 1; i <= count; i++) {
      const posted = await api.request(PostMessageDocument, { input: { conversationId: id, body: `m${i}` } });
      messageIds.push(posted.data!.postMessage.message.id);
    }
    return { id, messageIds };
  }

  it('lists newest first across pages of 2 with no duplicate and no gap', async () => {
    const tenant = await createTestTenant();
    const { id, messageIds } = await conversationWithMessages(tenant, 7);
    const pages = await walk(messagesPage(tenant, id, 2));
    expect(pages.flatMap((p) => p.ids)).toEqual([...messageIds].reverse());
    expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, true, false]);
    for (const page of pages) {
      expect(page.totalCount).toBe(7);
      expect(page.endCursor).toBe(page.cursors.at(-1));
    }
  });

  it('keeps later pages stable when messages are posted between fetches', async () => {
    const tenant = await createTestTenant();
    const { id, messageIds } = await conversationWithMessages(tenant, 5);
    const fetchPage = messagesPage(tenant, id, 2);
    const first = await fetchPage(null);
    await server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId: id, body: 'late' } });
    const rest = await walk(async (after) => fetchPage(after ?? first.endCursor!));
    expect(first.ids.concat(rest.flatMap((p) => p.ids))).toEqual([...messageIds].reverse());
    expect(rest[0]!.totalCount).toBe(6);
  });

  it('orders messages that share one created_at by id', async () => {
    const tenant = await createTestTenant();
    const { id } = await conversationWithMessages(tenant, 1);
    const { localId } = { localId: Buffer.from(id, 'base64url').toString('utf8').split(':')[1]! };
    await asOwner(tenant.id, (query) =>
      query(
        `insert into messages (conversation_id, author_id, body, created_at)
         select $1, $2, 'same ' || i, timestamptz '2020-01-01 00:00:00.123456+00' from generate_series(1, 5) i`,
        [localId, tenant.admin.id],
      ),
    );
    const pages = await walk(messagesPage(tenant, id, 2));
    const walked = pages.flatMap((p) => p.ids);
    expect(walked).toEqual(await expectedIds(tenant.id, 'Message', newestFirst, [localId]));
    expect(new Set(walked).size).toBe(6);
    expect(pages.at(-1)!.totalCount).toBe(6);
  });

  it('answers first: 0 with no rows, and returns 20 by default', async () => {
    const tenant = await createTestTenant();
    const { id } = await conversationWithMessages(tenant, 22);
    expect(await messagesPage(tenant, id, 0)(null)).toMatchObject({ ids: [], hasNextPage: true, endCursor: null, totalCount: 22 });
    const pages = await walk(messagesPage(tenant, id, undefined));
    expect(pages.map((p) => p.ids.length)).toEqual([20, 2]);
  });

  it('pages each conversation separately when several are listed with their messages', async () => {
    const tenant = await createTestTenant();
    const a = await conversationWithMessages(tenant, 3);
    const b = await conversationWithMessages(tenant, 4);
    const pageA = await messagesPage(tenant, a.id, 2)(null);
    const pageB = await messagesPage(tenant, b.id, 2)(pageA.endCursor!);
    // A cursor from another conversation is a position in time, not a row of this one: it must not leak rows of A.
    expect(pageB.ids.every((messageId) => b.messageIds.includes(messageId))).toBe(true);
  });
});

/** One page of any connection, both flags and both cursors. */
interface TwoWayPage {
  ids: string[];
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null | undefined;
  endCursor: string | null | undefined;
}

type PageArgs = { first?: number; after?: string; last?: number; before?: string };
type FetchTwoWay = (args: PageArgs) => Promise<TwoWayPage>;

function twoWay(connection: {
  edges: { cursor: string; node: { id: string } }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor?: string | null; endCursor?: string | null };
}): TwoWayPage {
  return {
    ids: connection.edges.map((e) => e.node.id),
    cursors: connection.edges.map((e) => e.cursor),
    hasNextPage: connection.pageInfo.hasNextPage,
    hasPreviousPage: connection.pageInfo.hasPreviousPage,
    startCursor: connection.pageInfo.startCursor,
    endCursor: connection.pageInfo.endCursor,
  };
}

/** Follows startCursor backward with `last` until hasPreviousPage is false; returns pages in fetch order. */
async function walkBackward(fetchPage: FetchTwoWay, last: number): Promise<TwoWayPage[]> {
  const pages: TwoWayPage[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await fetchPage({ last, ...(before ? { before } : {}) });
    pages.push(page);
    expect(page.startCursor).toBe(page.cursors[0] ?? null);
    expect(page.endCursor).toBe(page.cursors.at(-1) ?? null);
    if (!page.hasPreviousPage) return pages;
    before = page.startCursor!;
    if (pages.length > 100) throw new Error('backward pagination did not end');
  }
}

async function createConversationsIn(tenant: TestTenant, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    const created = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: `t${i}` } });
    ids.push(created.data!.createConversation.conversation.id);
  }
  return ids;
}

const conversationsTwoWay =
  (tenant: TestTenant): FetchTwoWay =>
  async (args) => {
    const result = await server.client(tenant.admin.token).request(ConversationsDocument, args);
    expect(result.errors).toBeUndefined();
    return twoWay(result.data!.conversations);
  };

const EDGES = 'edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

/** The SDK's Users and AuditEvents operations select nodes only; these ask for edges (and their cursors). */
async function edgesOf(tenant: TestTenant, field: 'users' | 'auditEvents', args: PageArgs): Promise<TwoWayPage> {
  const result = await server.post(
    {
      query: `query ($first: Int, $after: String, $last: Int, $before: String) {
        page: ${field}(first: $first, after: $after, last: $last, before: $before) { ${EDGES} } }`,
      variables: args,
    },
    { authorization: `Bearer ${tenant.admin.token}` },
  );
  expect(result.json.errors).toBeUndefined();
  return twoWay(result.json.data.page);
}

const usersTwoWay =
  (tenant: TestTenant): FetchTwoWay =>
  (args) =>
    edgesOf(tenant, 'users', args);

const messagesTwoWay =
  (tenant: TestTenant, id: string): FetchTwoWay =>
  async (args) => {
    const result = await server.client(tenant.admin.token).request(ConversationDocument, { id, ...args });
    expect(result.errors).toBeUndefined();
    return twoWay(result.data!.conversation!.messages);
  };

const auditTwoWay =
  (tenant: TestTenant): FetchTwoWay =>
  (args) =>
    edgesOf(tenant, 'auditEvents', args);

describe('backward pages (last/before)', () => {
  it('walks Query.conversations backward from the end, each page newest first, flags exact', async () => {
    const tenant = await createTestTenant();
    const newestFirst = [...(await createConversationsIn(tenant, 7))].reverse();
    const pages = await walkBackward(conversationsTwoWay(tenant), 2);
    expect(pages.map((p) => p.ids)).toEqual([newestFirst.slice(5, 7), newestFirst.slice(3, 5), newestFirst.slice(1, 3), newestFirst.slice(0, 1)]);
    expect(pages.map((p) => p.hasPreviousPage)).toEqual([true, true, true, false]);
    // Backward pages: hasNextPage says whether `before` was given (the row it came from follows the page).
    expect(pages.map((p) => p.hasNextPage)).toEqual([false, true, true, true]);
  });

  it('returns exactly the rows before a cursor at the page boundary, hasPreviousPage exact', async () => {
    const tenant = await createTestTenant();
    const all = [...(await createConversationsIn(tenant, 6))].reverse();
    const fetchPage = conversationsTwoWay(tenant);
    const full = await fetchPage({ first: 6 });
    expect(full).toMatchObject({ ids: all, hasNextPage: false, hasPreviousPage: false });
    const beforeFourth = full.cursors[3]!;

    expect(await fetchPage({ last: 3, before: beforeFourth })).toMatchObject({ ids: all.slice(0, 3), hasPreviousPage: false, hasNextPage: true });
    expect(await fetchPage({ last: 2, before: beforeFourth })).toMatchObject({ ids: all.slice(1, 3), hasPreviousPage: true, hasNextPage: true });
    expect(await fetchPage({ last: 4, before: beforeFourth })).toMatchObject({ ids: all.slice(0, 3), hasPreviousPage: false });
    // Forward at the other boundary: exact hasNextPage; hasPreviousPage says an `after` was given.
    expect(await fetchPage({ first: 2, after: full.cursors[3]! })).toMatchObject({ ids: all.slice(4, 6), hasNextPage: false, hasPreviousPage: true });
    expect(await fetchPage({ first: 1, after: full.cursors[3]! })).toMatchObject({ ids: all.slice(4, 5), hasNextPage: true, hasPreviousPage: true });
    expect(await fetchPage({ first: 3 })).toMatchObject({ ids: all.slice(0, 3), hasNextPage: true, hasPreviousPage: false });
  });

  it('loads newer rows before a page that was fetched forward, and meets the forward walk without gap or overlap', async () => {
    const tenant = await createTestTenant();
    const all = [...(await createConversationsIn(tenant, 7))].reverse();
    const fetchPage = conversationsTwoWay(tenant);
    const second = await fetchPage({ first: 3, after: (await fetchPage({ first: 2 })).endCursor! });
    expect(second.ids).toEqual(all.slice(2, 5));
    const newer = await fetchPage({ last: 5, before: second.startCursor! });
    expect(newer).toMatchObject({ ids: all.slice(0, 2), hasPreviousPage: false, hasNextPage: true });
    const older = await fetchPage({ first: 5, after: second.endCursor! });
    expect(newer.ids.concat(second.ids, older.ids)).toEqual(all);
  });

  it('answers empty backward pages: last: 0, before the first row, and an empty tenant', async () => {
    const tenant = await createTestTenant();
    const all = [...(await createConversationsIn(tenant, 2))].reverse();
    const fetchPage = conversationsTwoWay(tenant);
    const blank = { ids: [], startCursor: null, endCursor: null };
    expect(await fetchPage({ last: 0 })).toMatchObject({ ...blank, hasPreviousPage: true, hasNextPage: false });
    const firstCursor = (await fetchPage({ first: 1 })).cursors[0]!;
    expect((await fetchPage({ first: 1 })).ids).toEqual(all.slice(0, 1));
    expect(await fetchPage({ last: 2, before: firstCursor })).toMatchObject({ ...blank, hasPreviousPage: false, hasNextPage: true });

    const empty = await createTestTenant();
    expect(await conversationsTwoWay(empty)({ last: 2 })).toMatchObject({ ...blank, hasPreviousPage: false, hasNextPage: false });
    expect(await conversationsTwoWay(empty)({ last: 0 })).toMatchObject({ ...blank, hasPreviousPage: false, hasNextPage: false });
    // `before` alone pages backward with the default size.
    expect((await fetchPage({ before: firstCursor })).ids).toEqual([]);
  });

  it('returns the last 20 by default when only `before` is given, then the rest', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(
        `insert into conversations (title, created_by, created_at)
         select 'bulk ' || i, $1, now() - make_interval(secs => i) from generate_series(1, 23) i`,
        [tenant.admin.id],
      ),
    );
    const expected = await expectedIds(
      tenant.id,
      'Conversation',
      'select id from conversations where tenant_id = $1 order by created_at desc, id desc',
    );
    const fetchPage = conversationsTwoWay(tenant);
    const tail = await fetchPage({ last: 1 });
    const page = await fetchPage({ before: tail.startCursor! });
    expect(page).toMatchObject({ ids: expected.slice(2, 22), hasPreviousPage: true });
    expect((await fetchPage({ last: 100, before: page.startCursor! })).ids).toEqual(expected.slice(0, 2));
  });

  it('pages backward through rows that share one created_at, by id, without loss', async () => {
    const tenant = await createTestTenant();
    await asOwner(tenant.id, (query) =>
      query(`insert into conversations (title, created_by) select 'same ' || i, $1 from generate_series(1, 9) i`, [tenant.admin.id]),
    );
    const pages = await walkBackward(conversationsTwoWay(tenant), 2);
    const walked = [...pages].reverse().flatMap((p) => p.ids);
    expect(walked).toEqual(
      await expectedIds(tenant.id, 'Conversation', 'select id from conversations where tenant_id = $1 order by created_at desc, id desc'),
    );
    expect(pages).toHaveLength(5);
  });

  it('pages a filtered list backward', async () => {
    const tenant = await createTestTenant();
    const ids: string[] = [];
    for (const title of ['alpha 1', 'beta 1', 'alpha 2', 'beta 2', 'alpha 3']) {
      const created = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title } });
      ids.push(created.data!.createConversation.conversation.id);
    }
    const result = await server.client(tenant.admin.token).request(ConversationsDocument, { last: 2, filter: { titleContains: 'alpha' } });
    expect(twoWay(result.data!.conversations)).toMatchObject({ ids: [ids[2], ids[0]], hasPreviousPage: true });
    expect(result.data!.conversations.totalCount).toBe(3);
  });

  it('walks Query.users backward, each page oldest first', async () => {
    const tenant = await createTestTenant();
    const members = [tenant.admin];
    for (let i = 0; i < 4; i++) members.push(await tenant.addUser());
    const oldestFirst = members.map((u) => encodeGlobalId('User', u.id));
    const pages = await walkBackward(usersTwoWay(tenant), 2);
    expect(pages.map((p) => p.ids)).toEqual([oldestFirst.slice(3, 5), oldestFirst.slice(1, 3), oldestFirst.slice(0, 1)]);
    expect(pages.map((p) => p.hasPreviousPage)).toEqual([true, true, false]);
    expect(pages.map((p) => p.hasNextPage)).toEqual([false, true, true]);
  });

  it('loads newer messages of a chat view with NewerMessages(last, before: startCursor)', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'Chat' } });
    const id = created.data!.createConversation.conversation.id;
    const post = async (body: string) =>
      (await api.request(PostMessageDocument, { input: { conversationId: id, body } })).data!.postMessage.message.id;
    const shown = [await post('m1'), await post('m2'), await post('m3')];
    const view = await messagesTwoWay(tenant, id)({ first: 20 });
    expect(view).toMatchObject({ ids: [...shown].reverse(), hasNextPage: false, hasPreviousPage: false });

    const newer = [await post('n1'), await post('n2'), await post('n3'), await post('n4')];
    const next = await api.request(NewerMessagesDocument, { conversationId: id, before: view.startCursor!, last: 2 });
    const page = next.data!.conversation!.messages;
    expect(page.edges.map((e) => e.node.id)).toEqual([newer[1], newer[0]]);
    expect(page.pageInfo.hasPreviousPage).toBe(true);
    const rest = await api.request(NewerMessagesDocument, { conversationId: id, before: page.pageInfo.startCursor!, last: 2 });
    expect(rest.data!.conversation!.messages.edges.map((e) => e.node.id)).toEqual([newer[3], newer[2]]);
    expect(rest.data!.conversation!.messages.pageInfo.hasPreviousPage).toBe(false);
    const none = await api.request(NewerMessagesDocument, { conversationId: id, before: rest.data!.conversation!.messages.pageInfo.startCursor! });
    expect(none.data!.conversation!.messages).toMatchObject({ edges: [], pageInfo: { hasPreviousPage: false, startCursor: null } });
  });

  it('walks Conversation.messages backward (oldest first pages of a newest-first list) through ties', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'Ties' } });
    const id = created.data!.createConversation.conversation.id;
    const localId = Buffer.from(id, 'base64url').toString('utf8').split(':')[1]!;
    await asOwner(tenant.id, (query) =>
      query(
        `insert into messages (conversation_id, author_id, body, created_at)
         select $1, $2, 'm ' || i, timestamptz '2020-01-01 00:00:00+00' + make_interval(secs => i / 3) from generate_series(1, 7) i`,
        [localId, tenant.admin.id],
      ),
    );
    const pages = await walkBackward(messagesTwoWay(tenant, id), 3);
    expect([...pages].reverse().flatMap((p) => p.ids)).toEqual(
      await expectedIds(
        tenant.id,
        'Message',
        'select id from messages where tenant_id = $1 and conversation_id = $2 order by created_at desc, id desc',
        [localId],
      ),
    );
    expect(pages.map((p) => p.ids.length)).toEqual([3, 3, 1]);
  });

  it('pages nested messages(last:) of several conversations in one request, each its own', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const threads: { id: string; messages: string[] }[] = [];
    for (const size of [3, 1, 0]) {
      const created = await api.request(CreateConversationDocument, { input: { title: `size ${size}` } });
      const id = created.data!.createConversation.conversation.id;
      const messages: string[] = [];
      for (let i = 0; i < size; i++)
        messages.push((await api.request(PostMessageDocument, { input: { conversationId: id, body: `b${i}` } })).data!.postMessage.message.id);
      threads.push({ id, messages });
    }
    const result = await server.post(
      {
        query:
          'query { conversations(first: 10) { nodes { id lastMessage { id } messages(last: 2) { nodes { id } pageInfo { hasPreviousPage hasNextPage } } } } }',
      },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(result.json.errors).toBeUndefined();
    const byId = new Map(result.json.data.conversations.nodes.map((n: any) => [n.id, n]));
    for (const thread of threads) {
      const got: any = byId.get(thread.id);
      const newestFirst = [...thread.messages].reverse();
      expect(got.messages.nodes.map((m: { id: string }) => m.id)).toEqual(newestFirst.slice(-2));
      expect(got.messages.pageInfo).toEqual({ hasPreviousPage: thread.messages.length > 2, hasNextPage: false });
      expect(got.lastMessage?.id ?? null).toBe(newestFirst[0] ?? null);
    }
  });

  it('walks Query.auditEvents backward to the same events as forward', async () => {
    const tenant = await createTestTenant();
    for (let i = 0; i < 5; i++) await server.client(tenant.admin.token).request(UsersDocument, { first: 1 });
    await server.audit.flush();
    const fetchPage = auditTwoWay(tenant);
    const forward = await fetchPage({ first: 100 });
    // The five requests' events: the test server flushes only when asked, so the reads below add none yet.
    expect(forward.ids).toHaveLength(5);
    const pages = await walkBackward(fetchPage, 2);
    expect([...pages].reverse().flatMap((p) => p.ids)).toEqual(forward.ids);
  });
});

describe('page arguments', () => {
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await createTestTenant();
  });

  function expectRefused(
    result: { errors?: readonly { message: string; path?: readonly (string | number)[]; extensions?: Record<string, unknown> }[] },
    field: string,
    message: RegExp,
  ) {
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(result.errors![0]!.message).toMatch(message);
  }

  it.each<[PageArgs, string, RegExp]>([
    [{ first: 1, last: 1 }, 'last', /not both; received `first`, `last`/],
    [{ after: 'x', before: 'y' }, 'before', /not both; received `after`, `before`/],
    [{ first: 1, before: 'y' }, 'before', /`first`\/`after` to page forward or `last`\/`before` to page backward/],
    [{ last: 1, after: 'x' }, 'last', /received `after`, `last`/],
  ])('refuses mixed directions %j on every connection, naming the argument', async (args, field, message) => {
    const api = server.client(tenant.admin.token);
    expectRefused(await api.request(ConversationsDocument, args), field, message);
    expectRefused(await api.request(UsersDocument, args), field, message);
    expectRefused(await api.request(AuditEventsDocument, args), field, message);
    const created = await api.request(CreateConversationDocument, { input: { title: 'mixed' } });
    const nested = await api.request(ConversationDocument, { id: created.data!.createConversation.conversation.id, ...args });
    expectRefused(nested, field, message);
    expect(nested.errors![0]!.path).toEqual(['conversation', 'messages']);
  });

  it.each([-1, 101])('refuses last: %i naming `last` and the bounds', async (last) => {
    expectRefused(
      await server.client(tenant.admin.token).request(ConversationsDocument, { last }),
      'last',
      new RegExp(`\`last\` must be between 0 and 100, received ${last}`),
    );
  });

  it.each(['nope', Buffer.from('["2020-02-30T00:00:00Z","00000000-0000-0000-0000-000000000000"]').toString('base64url')])(
    'refuses a malformed `before` (%s) naming `before` and startCursor',
    async (before) => {
      expectRefused(
        await server.client(tenant.admin.token).request(UsersDocument, { before }),
        'before',
        /Invalid cursor: pass the startCursor .* as `before`/,
      );
    },
  );

  it("treats another tenant's cursor and another connection's cursor as a position, showing only the caller's rows", async () => {
    const mine = await createTestTenant();
    const theirs = await createTestTenant();
    const myIds = [...(await createConversationsIn(mine, 4))].reverse();
    const theirIds = await createConversationsIn(theirs, 3);
    const theirCursors = (await conversationsTwoWay(theirs)({ first: 3 })).cursors;
    // A message cursor (another connection) of the other tenant, too.
    const posted = await server.client(theirs.admin.token).request(PostMessageDocument, { input: { conversationId: theirIds[0]!, body: 'x' } });
    const theirMessageCursor = (await messagesTwoWay(theirs, theirIds[0]!)({ first: 1 })).cursors[0]!;
    expect(posted.errors).toBeUndefined();
    const newestFirst = 'select id, created_at from conversations where tenant_id = $1 order by created_at desc, id desc';
    const mineRows = await asOwner(mine.id, (query) => query(newestFirst, [mine.id]));
    for (const cursor of [...theirCursors, theirMessageCursor]) {
      const [createdAt, rowId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
      const position = await asOwner(mine.id, (query) =>
        query(`select count(*)::int as newer from conversations where tenant_id = $1 and (created_at, id) > ($2::timestamptz, $3::uuid)`, [
          mine.id,
          createdAt,
          rowId,
        ]),
      );
      const k = position[0].newer as number;
      for (const page of [
        await conversationsTwoWay(mine)({ last: 10, before: cursor }),
        await conversationsTwoWay(mine)({ first: 10, after: cursor }),
      ]) {
        expect(page.ids.every((id) => myIds.includes(id))).toBe(true);
      }
      expect((await conversationsTwoWay(mine)({ last: 10, before: cursor })).ids).toEqual(myIds.slice(0, k));
      expect((await conversationsTwoWay(mine)({ first: 10, after: cursor })).ids).toEqual(myIds.slice(k));
    }
    expect(mineRows).toHaveLength(4);
  });
});
