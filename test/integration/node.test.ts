import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGlobalId, type NodeType } from '../../src/graphql/global-id.js';
import { NODE_TYPES } from '../../src/modules/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// Query.node takes the type from the decoded global id and the module registry (src/modules/index.ts).
let server: TestServer;
let tenant: TestTenant;
let other: TestTenant;

beforeAll(async () => {
  server = await startTestServer();
  [tenant, other] = await Promise.all([createTestTenant(), createTestTenant()]);
});

afterAll(async () => {
  await server?.close();
});

async function graphql(owner: TestTenant, query: string, variables: Record<string, unknown> = {}) {
  const { json } = await server.post({ query, variables }, { authorization: `Bearer ${owner.admin.token}` });
  return json as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function node(owner: TestTenant, id: string) {
  return graphql(owner, 'query($id: ID!) { node(id: $id) { __typename id } }', { id });
}

/** The id of one object of each Node type that `owner` has. A Record, so a new Node type needs its fixture here. */
async function ownIds(owner: TestTenant): Promise<Record<NodeType, string>> {
  const viewer = await graphql(owner, '{ viewer { tenant { id } user { id } } }');
  const created = await graphql(owner, 'mutation { createConversation(input: { title: "node test" }) { conversation { id } } }');
  const conversation = created.data.createConversation.conversation.id as string;
  const posted = await graphql(owner, 'mutation($id: ID!) { postMessage(input: { conversationId: $id, body: "hi" }) { message { id } } }', {
    id: conversation,
  });
  return {
    Tenant: viewer.data.viewer.tenant.id,
    User: viewer.data.viewer.user.id,
    Conversation: conversation,
    Message: posted.data.postMessage.message.id,
  };
}

describe('Query.node', () => {
  it('loads every registered node type by its own id, with the __typename of the id', async () => {
    const ids = await ownIds(tenant);
    expect(Object.keys(ids).sort()).toEqual(Object.keys(NODE_TYPES).sort());
    for (const [type, id] of Object.entries(ids)) {
      expect(await node(tenant, id), type).toEqual({ data: { node: { __typename: type, id } } });
    }
  });

  it("answers null for another tenant's object of every node type", async () => {
    const theirs = await ownIds(other);
    for (const [type, id] of Object.entries(theirs)) {
      expect(await node(tenant, id), type).toEqual({ data: { node: null } });
    }
  });

  it('answers BAD_USER_INPUT for a well-formed id of a type that is not a Node (an AuditEvent id)', async () => {
    await server.audit.flush();
    const trail = await graphql(tenant, '{ auditEvents(first: 1) { nodes { id } } }');
    const [event] = trail.data.auditEvents.nodes as { id: string }[];
    expect(event).toBeDefined();
    expect(Buffer.from(event!.id, 'base64url').toString()).toMatch(/^AuditEvent:[0-9a-f-]{36}$/);
    const result = await node(tenant, event!.id);
    expect(result.data).toEqual({ node: null });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/expected the id of a Node \(.*Conversation.*\), received a AuditEvent id/);
  });

  it('answers BAD_USER_INPUT for an id of a type no one defines, as for any malformed id', async () => {
    const result = await node(tenant, encodeGlobalId('Conversation', '00000000-0000-0000-0000-000000000000').replace(/^Q29u/, 'WFla'));
    expect(result.data).toEqual({ node: null });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/expected an id returned by this API/);
  });
});
