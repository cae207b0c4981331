import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveConversationDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  DashboardDocument,
  InviteUserDocument,
  NodeDocument,
  PostMessageDocument,
  RenameConversationDocument,
  UsersDocument,
  ViewerDocument,
  type ConversationsQuery,
} from '../../src/__generated__/sdk/graphql.js';
import { decodeGlobalId, encodeGlobalId, type NodeType } from '../../src/graphql/global-id.js';
import { createClient, type Client, type GraphQLResponse } from '../../src/sdk/client.js';
import { snapshotTenants, withAppClient, withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant, type TestUser } from '../support/tenants.js';

// Three tenants with different amounts of data (so a leaked count shows), every title and body sharing the word
// "Shared" (so a filter that crossed tenants would match), and every string carrying the tenant's own tag.

interface Fixture {
  tag: string;
  tenant: TestTenant;
  member: TestUser;
  api: Client;
  /** Global ids, as the API hands them out. */
  ids: {
    tenant: string;
    users: string[];
    conversations: string[];
    archived: string[];
    /** Message ids per conversation id, newest first. */
    messages: Map<string, string[]>;
  };
  emails: string[];
}

let server: TestServer;
let fixtures: Fixture[];

beforeAll(async () => {
  server = await startTestServer();
  fixtures = await Promise.all([0, 1, 2].map((index) => createFixture(index)));
});
afterAll(async () => {
  await server?.close();
});

async function createFixture(index: number): Promise<Fixture> {
  const tag = `iso${index}t${randomUUID().slice(0, 8)}`;
  const tenant = await createTestTenant({ name: `Tenant ${tag}` });
  const member = await tenant.addUser('MEMBER');
  const api = server.client(tenant.admin.token);
  const memberApi = server.client(member.token);
  const invited = ok(await api.request(InviteUserDocument, { input: { email: `invited-${tag}@example.test`, displayName: `Invited ${tag}` } }));
  const conversations: string[] = [];
  const archived: string[] = [];
  const messages = new Map<string, string[]>();
  for (let c = 0; c < index + 2; c++) {
    const created = ok(await api.request(CreateConversationDocument, { input: { title: `Shared ${tag} topic ${c}` } }));
    const id = created.createConversation.conversation.id;
    conversations.push(id);
    const ids: string[] = [];
    for (let m = 0; m <= c; m++) {
      const author = m % 2 === 0 ? api : memberApi;
      const posted = ok(await author.request(PostMessageDocument, { input: { conversationId: id, body: `Shared body ${tag} ${c}.${m}` } }));
      ids.unshift(posted.postMessage.message.id);
    }
    messages.set(id, ids);
    if (c === 0) {
      ok(await api.request(ArchiveConversationDocument, { input: { id } }));
      archived.push(id);
    }
  }
  const viewer = ok(await api.request(ViewerDocument));
  const users = ok(await api.request(UsersDocument, { first: 100 }));
  return {
    tag,
    tenant,
    member,
    api,
    ids: {
      tenant: viewer.viewer.tenant.id,
      users: users.users.nodes.map((u) => u.id),
      conversations,
      archived,
      messages,
    },
    emails: [tenant.admin.email, member.email, invited.inviteUser.user.email],
  };
}

/** The data of a successful response; fails the test with the errors otherwise. */
function ok<T>(response: GraphQLResponse<T>): T {
  expect(response.errors).toBeUndefined();
  expect(response.status).toBe(200);
  return response.data!;
}

function others(self: Fixture): Fixture[] {
  return fixtures.filter((f) => f !== self);
}

function allMessageIds(fixture: Fixture): string[] {
  return [...fixture.ids.messages.values()].flat();
}

/** Every string of a tenant that must never appear in another tenant's response. */
function secretsOf(fixture: Fixture): string[] {
  const local = (id: string) => decodeGlobalId(id).localId;
  const globalIds = [fixture.ids.tenant, ...fixture.ids.users, ...fixture.ids.conversations, ...allMessageIds(fixture)];
  return [fixture.tag, fixture.tenant.name, ...fixture.emails, ...globalIds, ...globalIds.map(local)];
}

function expectNoForeignData(self: Fixture, response: unknown): void {
  const text = JSON.stringify(response);
  for (const other of others(self)) {
    for (const secret of secretsOf(other)) expect(text).not.toContain(secret);
  }
}

function tenantIds(): string[] {
  return fixtures.map((f) => f.tenant.id);
}

/** A well-formed id of the given type that no tenant has. */
function randomId(type: NodeType): string {
  return encodeGlobalId(type, type === 'Tenant' ? String(1 + Math.floor(Math.random() * 999_999_999_999)) : randomUUID());
}

/** A response with the id it was asked about replaced, so responses about two different ids can be compared. */
function normalized(response: GraphQLResponse<unknown>, id: string): unknown {
  const { status, data, errors } = response;
  return JSON.parse(JSON.stringify({ status, data, errors }).replaceAll(id, '<id>'));
}

/** SECURITY: another tenant's id must be indistinguishable from an id that does not exist. */
async function expectLikeMissing(
  request: (id: string) => Promise<GraphQLResponse<unknown>>,
  foreignId: string,
  type: NodeType,
): Promise<GraphQLResponse<unknown>> {
  const missingId = randomId(type);
  const foreign = await request(foreignId);
  const missing = await request(missingId);
  expect(normalized(foreign, foreignId)).toEqual(normalized(missing, missingId));
  return foreign;
}

function foreignNodeIds(self: Fixture): { type: NodeType; id: string }[] {
  return others(self).flatMap((other) => [
    { type: 'Tenant' as const, id: other.ids.tenant },
    ...other.ids.users.map((id) => ({ type: 'User' as const, id })),
    ...other.ids.conversations.map((id) => ({ type: 'Conversation' as const, id })),
    ...allMessageIds(other).map((id) => ({ type: 'Message' as const, id })),
  ]);
}

describe('fixture', () => {
  it('gives each of the three tenants its own distinct data', () => {
    expect(fixtures.map((f) => f.ids.conversations.length)).toEqual([2, 3, 4]);
    expect(fixtures.map((f) => f.ids.users.length)).toEqual([3, 3, 3]);
    expect(new Set(fixtures.map((f) => f.ids.tenant)).size).toBe(3);
  });
});

describe('Query.viewer', () => {
  it('returns the user and tenant of the token for every tenant', async () => {
    for (const fixture of fixtures) {
      const data = ok(await fixture.api.request(ViewerDocument));
      expect(data.viewer.tenant).toEqual({ id: fixture.ids.tenant, name: fixture.tenant.name });
      expect(data.viewer.user.email).toBe(fixture.tenant.admin.email);
      expectNoForeignData(fixture, data);
    }
  });
});

describe('Query.node', () => {
  it("resolves the caller's own Tenant, User, Conversation and Message ids", async () => {
    for (const fixture of fixtures) {
      const own = [fixture.ids.tenant, ...fixture.ids.users, ...fixture.ids.conversations, ...allMessageIds(fixture)];
      for (const id of own) {
        const data = ok(await fixture.api.request(NodeDocument, { id }));
        expect(data.node?.id).toBe(id);
        expectNoForeignData(fixture, data);
      }
    }
  });

  it("returns null for another tenant's Tenant, User, Conversation and Message ids, exactly as for random ids", async () => {
    for (const fixture of fixtures) {
      const foreign = foreignNodeIds(fixture);
      expect(new Set(foreign.map((n) => n.type))).toEqual(new Set(['Tenant', 'User', 'Conversation', 'Message']));
      for (const { type, id } of foreign) {
        const response = await expectLikeMissing((nodeId) => fixture.api.request(NodeDocument, { id: nodeId }), id, type);
        expect(response.errors).toBeUndefined();
        expect(response.data).toEqual({ node: null });
      }
    }
  });
});

describe('Query.conversation', () => {
  it("returns null for another tenant's conversation id, exactly as for a random id", async () => {
    for (const fixture of fixtures) {
      for (const other of others(fixture)) {
        for (const id of other.ids.conversations) {
          const response = await expectLikeMissing(
            (conversationId) => fixture.api.request(ConversationDocument, { id: conversationId, first: 100 }),
            id,
            'Conversation',
          );
          expect(response.errors).toBeUndefined();
          expect(response.data).toEqual({ conversation: null });
        }
      }
    }
  });

  it("shows only the caller's messages, lastMessage and counts in its own conversations", async () => {
    for (const fixture of fixtures) {
      for (const id of fixture.ids.conversations) {
        const expected = fixture.ids.messages.get(id)!;
        const data = ok(await fixture.api.request(ConversationDocument, { id, first: 100 }));
        const conversation = data.conversation!;
        expect(conversation.messages.edges.map((e) => e.node.id)).toEqual(expected);
        expect(conversation.messages.totalCount).toBe(expected.length);
        expect(conversation.messageCount).toBe(expected.length);
        expect(conversation.lastMessage?.id).toBe(expected[0]);
        expect(conversation.messages.edges.every((e) => e.node.conversation.id === id)).toBe(true);
        expectNoForeignData(fixture, data);
      }
    }
  });
});

describe('Query.conversations', () => {
  it("lists and counts only the caller's conversations", async () => {
    for (const fixture of fixtures) {
      const data = ok(await fixture.api.request(ConversationsDocument, { first: 100 }));
      expect(data.conversations.edges.map((e) => e.node.id).sort()).toEqual([...fixture.ids.conversations].sort());
      expect(data.conversations.totalCount).toBe(fixture.ids.conversations.length);
      expectNoForeignData(fixture, data);
    }
  });

  it("pages through only the caller's conversations", async () => {
    for (const fixture of fixtures) {
      const seen: string[] = [];
      let after: string | null | undefined = null;
      for (let page = 0; page < 10; page++) {
        const data: ConversationsQuery = ok(await fixture.api.request(ConversationsDocument, { first: 1, after }));
        seen.push(...data.conversations.edges.map((e) => e.node.id));
        expect(data.conversations.totalCount).toBe(fixture.ids.conversations.length);
        expectNoForeignData(fixture, data);
        if (!data.conversations.pageInfo.hasNextPage) break;
        after = data.conversations.pageInfo.endCursor;
      }
      expect(seen.sort()).toEqual([...fixture.ids.conversations].sort());
    }
  });

  it("applies filter and totalCount within the caller's tenant only", async () => {
    for (const fixture of fixtures) {
      const shared = ok(await fixture.api.request(ConversationsDocument, { first: 100, filter: { titleContains: 'Shared' } }));
      expect(shared.conversations.totalCount).toBe(fixture.ids.conversations.length);
      expect(shared.conversations.edges.map((e) => e.node.id).sort()).toEqual([...fixture.ids.conversations].sort());

      const archived = ok(await fixture.api.request(ConversationsDocument, { first: 100, filter: { archived: true } }));
      expect(archived.conversations.edges.map((e) => e.node.id)).toEqual(fixture.ids.archived);
      expect(archived.conversations.totalCount).toBe(fixture.ids.archived.length);

      const active = ok(await fixture.api.request(ConversationsDocument, { first: 100, filter: { archived: false, titleContains: 'topic' } }));
      expect(active.conversations.totalCount).toBe(fixture.ids.conversations.length - fixture.ids.archived.length);
      expectNoForeignData(fixture, [shared, archived, active]);

      // Another tenant's title finds exactly as much as a title nobody has: nothing.
      for (const other of others(fixture)) {
        const byForeignTitle = await fixture.api.request(ConversationsDocument, { first: 100, filter: { titleContains: other.tag } });
        const byUnknownTitle = await fixture.api.request(ConversationsDocument, { first: 100, filter: { titleContains: 'no-such-title' } });
        expect(byForeignTitle.data).toEqual({
          conversations: { totalCount: 0, pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null }, edges: [] },
        });
        expect(byForeignTitle.data).toEqual(byUnknownTitle.data);
      }
    }
  });

  it("nests only the caller's lastMessage, messages and authors", async () => {
    for (const fixture of fixtures) {
      const data = ok(await fixture.api.request(DashboardDocument, { first: 10, messages: 10 }));
      const active = fixture.ids.conversations.filter((id) => !fixture.ids.archived.includes(id));
      expect(data.conversations.nodes.map((c) => c.id).sort()).toEqual([...active].sort());
      for (const conversation of data.conversations.nodes) {
        const expected = fixture.ids.messages.get(conversation.id)!;
        expect(conversation.messages.nodes.map((m) => m.id)).toEqual(expected);
        expect(conversation.lastMessage?.id).toBe(expected[0]);
        for (const message of conversation.messages.nodes) expect(fixture.ids.users).toContain(message.author.id);
      }
      expectNoForeignData(fixture, data);
    }
  });
});

describe('Query.users', () => {
  it("lists and counts only the caller's members", async () => {
    for (const fixture of fixtures) {
      const data = ok(await fixture.api.request(UsersDocument, { first: 100 }));
      expect(data.users.nodes.map((u) => u.email).sort()).toEqual([...fixture.emails].map((e) => e.toLowerCase()).sort());
      expect(data.users.totalCount).toBe(3);
      expectNoForeignData(fixture, data);

      const paged = ok(await fixture.api.request(UsersDocument, { first: 1 }));
      expect(paged.users.totalCount).toBe(3);
      const rest = ok(await fixture.api.request(UsersDocument, { first: 100, after: paged.users.pageInfo.endCursor }));
      expect([...paged.users.nodes, ...rest.users.nodes].map((u) => u.id).sort()).toEqual([...fixture.ids.users].sort());
    }
  });
});

/** Every tenant's mutation on each conversation of every other tenant: NOT_FOUND exactly as for a random id, no change. */
async function expectForeignConversationsNotFound(
  mutate: (fixture: Fixture, conversationId: string) => Promise<GraphQLResponse<unknown>>,
): Promise<void> {
  const before = await snapshotTenants(tenantIds());
  for (const fixture of fixtures) {
    for (const other of others(fixture)) {
      for (const id of other.ids.conversations) {
        const response = await expectLikeMissing((target) => mutate(fixture, target), id, 'Conversation');
        expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
        expect(response.data).toBeNull();
      }
    }
  }
  expect(await snapshotTenants(tenantIds())).toEqual(before);
}

describe('Mutation.renameConversation', () => {
  it("answers NOT_FOUND for another tenant's conversation, exactly as for a random id, and changes nothing", async () => {
    await expectForeignConversationsNotFound((fixture, id) =>
      fixture.api.request(RenameConversationDocument, { input: { id, title: `Hijacked by ${fixture.tag}` } }),
    );
  });
});

describe('Mutation.archiveConversation', () => {
  it("answers NOT_FOUND for another tenant's conversation, exactly as for a random id, and changes nothing", async () => {
    await expectForeignConversationsNotFound((fixture, id) => fixture.api.request(ArchiveConversationDocument, { input: { id } }));
  });
});

describe('Mutation.postMessage', () => {
  it("answers NOT_FOUND for another tenant's conversation, exactly as for a random id, and writes nothing", async () => {
    await expectForeignConversationsNotFound((fixture, conversationId) =>
      fixture.api.request(PostMessageDocument, { input: { conversationId, body: `Planted by ${fixture.tag}` } }),
    );
  });
});

describe('Mutation.createConversation', () => {
  it("writes into the caller's tenant only", async () => {
    const [a, ...rest] = fixtures as [Fixture, ...Fixture[]];
    const othersBefore = await snapshotTenants(rest.map((f) => f.tenant.id));
    const data = ok(await a.api.request(CreateConversationDocument, { input: { title: `Fresh ${a.tag}` } }));
    const { localId } = decodeGlobalId(data.createConversation.conversation.id);
    const owners = await withOwnerClient((client) => client.query('select tenant_id::text from conversations where id = $1', [localId]));
    expect(owners.rows).toEqual([{ tenant_id: a.tenant.id }]);
    expect(await snapshotTenants(rest.map((f) => f.tenant.id))).toEqual(othersBefore);
    for (const other of rest) {
      const node = ok(await other.api.request(NodeDocument, { id: data.createConversation.conversation.id }));
      expect(node.node).toBeNull();
    }
    a.ids.conversations.push(data.createConversation.conversation.id);
    a.ids.messages.set(data.createConversation.conversation.id, []);
  });
});

describe('Mutation.inviteUser', () => {
  it("creates the user in the caller's tenant even when another tenant has the same email, touching nothing there", async () => {
    // Fresh tenants: the copied email would otherwise show up as "foreign data" in later checks of the fixtures.
    const [x, y] = await Promise.all([createTestTenant(), createTestTenant()]);
    const api = server.client(x.admin.token);
    const before = await snapshotTenants([y.id, ...tenantIds()]);
    // Another tenant's email is answered exactly like a fresh one: emails are unique per tenant only.
    const taken = await api.request(InviteUserDocument, { input: { email: y.admin.email, displayName: 'Copy' } });
    const fresh = await api.request(InviteUserDocument, { input: { email: `fresh-${x.id}@example.test`, displayName: 'Copy' } });
    const created = ok(taken).inviteUser.user;
    expect(ok(fresh).inviteUser.user).toMatchObject({ displayName: 'Copy', role: 'MEMBER' });
    expect(created).toMatchObject({ email: y.admin.email, displayName: 'Copy', role: 'MEMBER' });
    expect(decodeGlobalId(created.id).localId).not.toBe(y.admin.id);

    const rows = await withOwnerClient((client) =>
      client.query('select tenant_id::text, lower(email) as email from users where id = $1', [decodeGlobalId(created.id).localId]),
    );
    expect(rows.rows).toEqual([{ tenant_id: x.id, email: y.admin.email.toLowerCase() }]);
    expect(await snapshotTenants([y.id, ...tenantIds()])).toEqual(before);
    const yUsers = ok(await server.client(y.admin.token).request(UsersDocument, { first: 100 }));
    expect(yUsers.users.nodes.map((u) => u.email)).toEqual([y.admin.email]);
  });

  it("refuses a duplicate within the caller's own tenant without naming anything of another tenant", async () => {
    const [, b] = fixtures as [Fixture, Fixture];
    const before = await snapshotTenants(tenantIds());
    const response = await b.api.request(InviteUserDocument, { input: { email: b.member.email.toUpperCase(), displayName: 'Again' } });
    expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.message).toBe('A user with this email already exists in your tenant.');
    expect(await snapshotTenants(tenantIds())).toEqual(before);
  });
});

describe('messages (database, app role)', () => {
  it("refuses a message that references another tenant's conversation and writes nothing", async () => {
    const [a, b] = fixtures as [Fixture, Fixture];
    const before = await snapshotTenants(tenantIds());
    const foreignConversation = decodeGlobalId(b.ids.conversations[0]!).localId;
    const author = a.tenant.admin.id;
    const attempt = (sql: string, params: unknown[]) =>
      withAppClient(async (client) => {
        await client.query('begin');
        try {
          await client.query("select set_config('app.current_tenant', $1, true)", [a.tenant.id]);
          await client.query(sql, params);
          return null;
        } catch (error) {
          return error as { code?: string; message: string };
        } finally {
          await client.query('rollback');
        }
      });

    // Under A's tenant: the composite foreign key (tenant_id, conversation_id) finds no such conversation in A.
    const implicit = await attempt('insert into messages (conversation_id, author_id, body) values ($1, $2, $3)', [
      foreignConversation,
      author,
      'planted',
    ]);
    expect(implicit?.code).toBe('23503');
    // Claiming B's tenant_id outright: the policy's WITH CHECK refuses the row.
    const explicit = await attempt('insert into messages (tenant_id, conversation_id, author_id, body) values ($1, $2, $3, $4)', [
      b.tenant.id,
      foreignConversation,
      author,
      'planted',
    ]);
    expect(explicit?.code).toBe('42501');
    expect(explicit?.message).toMatch(/row-level security policy/);
    expect(await snapshotTenants(tenantIds())).toEqual(before);
  });
});

describe('smuggled tenant ids', () => {
  it('ignores an X-Tenant-Id header naming another tenant', async () => {
    const [a, b] = fixtures as [Fixture, Fixture];
    const headers = { 'x-tenant-id': b.tenant.id, 'x-tenant': b.tenant.id, 'tenant-id': b.tenant.id };
    const query = async (api: Client) => {
      const responses = {
        viewer: await api.request(ViewerDocument),
        conversations: await api.request(ConversationsDocument, { first: 100 }),
        users: await api.request(UsersDocument, { first: 100 }),
        node: await api.request(NodeDocument, { id: b.ids.conversations[0]! }),
      };
      return Object.fromEntries(Object.entries(responses).map(([k, r]) => [k, { status: r.status, data: r.data, errors: r.errors }]));
    };
    const plain = await query(createClient({ url: server.url, token: a.tenant.admin.token }));
    const smuggled = await query(createClient({ url: server.url, token: a.tenant.admin.token, headers }));
    expect(smuggled).toEqual(plain);
    expect(plain.viewer!.data).toMatchObject({ viewer: { tenant: { id: a.ids.tenant } } });
    expect(plain.node!.data).toEqual({ node: null });
    expectNoForeignData(a, plain);

    const before = await snapshotTenants([b.tenant.id]);
    const created = await server.post(
      {
        query: 'mutation($input: CreateConversationInput!) { createConversation(input: $input) { conversation { id } } }',
        variables: { input: { title: `Header ${a.tag}` } },
      },
      { authorization: `Bearer ${a.tenant.admin.token}`, ...headers },
    );
    const id = decodeGlobalId(created.json.data.createConversation.conversation.id).localId;
    const row = await withOwnerClient((client) => client.query('select tenant_id::text from conversations where id = $1', [id]));
    expect(row.rows).toEqual([{ tenant_id: a.tenant.id }]);
    expect(await snapshotTenants([b.tenant.id])).toEqual(before);
    a.ids.conversations.push(created.json.data.createConversation.conversation.id);
  });

  it('ignores a tenantId smuggled into variables and extensions, and refuses it inside an input', async () => {
    const [a, b] = fixtures as [Fixture, Fixture];
    const auth = { authorization: `Bearer ${a.tenant.admin.token}` };
    const query = 'query($first: Int) { viewer { tenant { id } } conversations(first: $first) { totalCount nodes { id } } }';
    const plain = await server.post({ query, variables: { first: 100 } }, auth);
    const smuggled = await server.post(
      { query, variables: { first: 100, tenantId: b.tenant.id, tenant_id: b.tenant.id }, extensions: { tenantId: b.tenant.id } },
      auth,
    );
    expect(smuggled).toEqual(plain);
    expect(plain.json.data.viewer.tenant.id).toBe(a.ids.tenant);
    expect(plain.json.data.conversations.totalCount).toBe(a.ids.conversations.length);

    const before = await snapshotTenants(tenantIds());
    const mutation = 'mutation($input: CreateConversationInput!) { createConversation(input: $input) { conversation { id } } }';
    const refused = await server.post({ query: mutation, variables: { input: { title: `Smuggled ${a.tag}`, tenantId: b.tenant.id } } }, auth);
    expect(refused.json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.json.data).toBeUndefined();
    expect(await snapshotTenants(tenantIds())).toEqual(before);
  });

  it('refuses a token whose tenant claim names a tenant its user does not belong to', async () => {
    const [a, b] = fixtures as [Fixture, Fixture];
    const forged = await tokenFor(b.tenant.id, a.tenant.admin.id);
    const response = await server.client(forged).request(ConversationsDocument, { first: 100 });
    expect(response.status).toBe(401);
    expect(response.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(response.data ?? null).toBeNull();
    expectNoForeignData(a, response.errors);
  });
});
