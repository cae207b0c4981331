import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  PostMessageDocument,
  UsersDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { enterTenant, withOwnerTransaction } from '../../src/admin/owner-client.js';
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
  const conversationsPage = (tenant: TestTenant, first: number | undefined, filter?: { archived?: boolean; titleContains?: string }): FetchPage =>
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
  const usersPage = (tenant: TestTenant, first: number | undefined): FetchPage => async (after) => {
    const result = await server.client(tenant.admin.token).request(UsersDocument, {
      ...(first === undefined ? {} : { first }),
      ...(after ? { after } : {}),
    });
    expect(result.errors).toBeUndefined();
    const u = result.data!.users;
    return { ids: u.nodes.map((n) => n.id), cursors: [], hasNextPage: u.pageInfo.hasNextPage, endCursor: u.pageInfo.endCursor, totalCount: u.totalCount };
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
  const messagesPage = (tenant: TestTenant, conversationId: string, first: number | undefined): FetchPage => async (after) => {
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
