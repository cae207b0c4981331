import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { aliasedBodiesQuery, createConversationWithMessages } from '../support/big-messages.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

const LIMIT = 200_000;
let defaults: TestServer;
let limited: TestServer;
let tenant: TestTenant;
let conversationId: string;
beforeAll(async () => {
  // The default limits (cost 5,000, 4 MB), and a small response limit with a cost limit that lets big documents run.
  [defaults, limited, tenant] = await Promise.all([
    startTestServer(),
    startTestServer({ http: { maxResponseBytes: LIMIT }, limits: { maxCost: 1_000_000 } }),
    createTestTenant(),
  ]);
  conversationId = await createConversationWithMessages(tenant, 100, 10_000);
});
afterAll(async () => {
  await Promise.all([defaults.close(), limited.close()]);
});

const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });

describe('query cost counts what makes responses big', () => {
  it('refuses 15 aliases of a page of 100 message bodies (~15 MB) before any SQL, under the default limits', async () => {
    defaults.statements.length = 0;
    const query = aliasedBodiesQuery(conversationId, 15);
    expect(query.length).toBeLessThan(2_500);
    const result = await defaults.post({ query }, auth());
    expect(result.status).toBe(400);
    expect(result.json.errors[0].message).toMatch(/cost \d+ exceeds the limit of 5000/);
    expect(defaults.statements).toEqual([]);
  });

  it('refuses 15 aliases of a title search with totalCount before any SQL', async () => {
    defaults.statements.length = 0;
    const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: conversations(filter: { titleContains: "x${i}" }) { totalCount }`);
    const result = await defaults.post({ query: `{ ${aliases.join(' ')} }` }, auth());
    expect(result.status).toBe(400);
    expect(result.json.errors[0].message).toMatch(/exceeds the limit of 5000/);
    expect(defaults.statements).toEqual([]);
  });

  it('still serves one page of 100 message bodies (~1 MB)', async () => {
    const result = await defaults.post({ query: aliasedBodiesQuery(conversationId, 1) }, auth());
    expect(result.status).toBe(200);
    expect(result.json.data.a0.messages.nodes).toHaveLength(100);
  });
});

describe('response-size limit', () => {
  it('refuses a query result over the limit with RESPONSE_TOO_LARGE naming the limit, sending none of it', async () => {
    const response = await fetch(limited.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth() },
      body: JSON.stringify({ query: aliasedBodiesQuery(conversationId, 1, 30) }),
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(1_000);
    const json = JSON.parse(text);
    expect(json.data).toBeUndefined();
    expect(json.errors[0].extensions).toEqual({ code: 'RESPONSE_TOO_LARGE', limitBytes: LIMIT });
    expect(json.errors[0].message).toMatch(/over the limit of 200000 bytes.*smaller pages.*fewer fields/);
  });

  it('serves a result under the limit', async () => {
    const result = await limited.post({ query: aliasedBodiesQuery(conversationId, 1, 10) }, auth());
    expect(result.status).toBe(200);
    expect(result.json.data.a0.messages.nodes).toHaveLength(10);
  });

  it('rolls back a mutation whose response would be refused: nothing is saved', async () => {
    const { localId } = decodeGlobalId(conversationId, 'Conversation');
    const countMessages = () =>
      withOwnerClient(async (client) => {
        const { rows } = await client.query<{ n: number }>('select count(*)::int as n from messages where conversation_id = $1', [localId]);
        return rows[0]!.n;
      });
    const before = await countMessages();
    // The payload selects the conversation's messages back: 21 bodies of 10,000 characters, over 200,000 bytes.
    const mutation = `mutation($input: PostMessageInput!) {
      postMessage(input: $input) { message { id conversation { messages(first: 20) { nodes { body } } } } }
    }`;
    const result = await limited.post({ query: mutation, variables: { input: { conversationId, body: 'y'.repeat(10_000) } } }, auth());
    expect(result.status).toBe(400);
    expect(result.json.errors[0].extensions.code).toBe('RESPONSE_TOO_LARGE');
    expect(result.json.errors[0].message).toMatch(/mutation was rolled back \(nothing was saved\)/);
    expect(await countMessages()).toBe(before);

    // The same mutation with a small payload commits.
    const small = await limited.post(
      {
        query: 'mutation($input: PostMessageInput!) { postMessage(input: $input) { message { id } } }',
        variables: { input: { conversationId, body: 'ok' } },
      },
      auth(),
    );
    expect(small.status).toBe(200);
    expect(await countMessages()).toBe(before + 1);
  });
});
