import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedDocuments } from '../../src/server/trusted/trusted-documents.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';
import { bearer, directAppUrl, eventually, openSocket, type TestSocket } from '../support/realtime-client.js';

const MESSAGE_POSTED = `subscription($id: ID!, $after: String) {
  messagePosted(conversationId: $id, after: $after) { cursor message { id body author { id displayName } conversation { id title } } }
}`;
const CONVERSATION_CHANGED = `subscription($after: String) {
  conversationChanged(after: $after) { cursor kind conversationId conversation { id title archived } }
}`;

let server: TestServer;
let tenant: TestTenant;
const sockets: TestSocket[] = [];

function socket(params: Record<string, unknown> | undefined): TestSocket {
  const opened = openSocket(server, params);
  sockets.push(opened);
  return opened;
}

async function graphql(token: string, query: string, variables: Record<string, unknown> = {}) {
  const { json } = await server.post({ query, variables }, { authorization: `Bearer ${token}` });
  if (json.errors) throw new Error(JSON.stringify(json.errors));
  return json.data;
}

async function createConversation(owner: TestTenant, title = 'realtime'): Promise<string> {
  const data = await graphql(owner.admin.token, 'mutation($t: String!) { createConversation(input: { title: $t }) { conversation { id } } }', {
    t: title,
  });
  return data.createConversation.conversation.id;
}

async function post(owner: TestTenant, conversationId: string, body: string): Promise<string> {
  const data = await graphql(
    owner.admin.token,
    'mutation($id: ID!, $b: String!) { postMessage(input: { conversationId: $id, body: $b }) { message { id } } }',
    {
      id: conversationId,
      b: body,
    },
  );
  return data.postMessage.message.id;
}

beforeAll(async () => {
  server = await startTestServer({ realtime: { listenUrl: directAppUrl(), maxSubscriptionsPerSocket: 1000, maxSubscriptionsPerTenant: 1000 } });
  tenant = await createTestTenant();
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.close();
});

describe('Subscription.messagePosted', () => {
  it('delivers a posted message with its author and conversation, resolved through the loaders', async () => {
    const conversation = await createConversation(tenant);
    const ws = socket(bearer(tenant.admin.token));
    await ws.connected;
    const sub = ws.subscribe(MESSAGE_POSTED, { id: conversation });
    await eventually(() => server.realtime.subscriptionsOf(tenant.id) > 0, 'the subscription to start');
    const messageId = await post(tenant, conversation, 'hello live');
    const [event] = await sub.waitFor(1);
    expect(event.messagePosted.message).toMatchObject({ id: messageId, body: 'hello live', conversation: { id: conversation, title: 'realtime' } });
    expect(event.messagePosted.message.author.id).toBeTruthy();
    expect(typeof event.messagePosted.cursor).toBe('string');
    expect(sub.errors).toEqual([]);
  });

  it('shares one execution per event only among subscribers with the same document and variables', async () => {
    const [room, other] = [await createConversation(tenant), await createConversation(tenant)];
    const ws = socket(bearer(tenant.admin.token));
    await ws.connected;
    const bodyOnly = 'subscription($id: ID!) { messagePosted(conversationId: $id) { message { body } } }';
    const withAuthor = 'subscription($id: ID!) { messagePosted(conversationId: $id) { message { id author { displayName } } } }';
    const before = server.realtime.subscriptionsOf(tenant.id);
    const subs = [
      ws.subscribe(bodyOnly, { id: room }),
      ws.subscribe(bodyOnly, { id: room }),
      ws.subscribe(withAuthor, { id: room }),
      ws.subscribe(bodyOnly, { id: other }),
    ];
    await eventually(() => server.realtime.subscriptionsOf(tenant.id) === before + 4, 'four subscriptions');
    const id = await post(tenant, room, 'shared?');
    await post(tenant, other, 'elsewhere');
    const [a, b, c, d] = await Promise.all(subs.map((sub) => sub.waitFor(1)));
    expect(a).toEqual([{ messagePosted: { message: { body: 'shared?' } } }]);
    expect(b).toEqual(a);
    expect(c).toEqual([{ messagePosted: { message: { id, author: { displayName: expect.any(String) } } } }]);
    expect(d).toEqual([{ messagePosted: { message: { body: 'elsewhere' } } }]);
  });

  it('serves 1,000 subscribers of one conversation with one batch of 3 statements (prologue, read, commit)', async () => {
    // A server of its own, without polling, so that the only batch after the message is the message's.
    const roomServer = await startTestServer({
      pool: { max: 8, acquireTimeoutMs: 10_000 },
      fairShare: { connectionsPerTenant: 8 },
      realtime: {
        listenUrl: directAppUrl(),
        pollIntervalMs: 600_000,
        maxSubscriptionsPerSocket: 50,
        maxSubscriptionsPerTenant: 1000,
        // The twenty sockets below connect at once from one address (the default allows 16 before their acks).
        maxPendingSocketsPerAddress: 20,
      },
    });
    const room = await createTestTenant();
    const post = async (_owner: TestTenant, id: string, body: string) => {
      const { json } = await roomServer.post(
        {
          query: 'mutation($id: ID!, $b: String!) { postMessage(input: { conversationId: $id, body: $b }) { message { id } } }',
          variables: { id, b: body },
        },
        { authorization: `Bearer ${room.admin.token}` },
      );
      expect(json.errors).toBeUndefined();
    };
    const conversation = await createConversation(room, 'large room');
    // Twenty sockets of 50 subscriptions (a socket starts its subscriptions one after another).
    const roomSockets = Array.from({ length: 20 }, () => openSocket(roomServer, bearer(room.admin.token)));
    await Promise.all(roomSockets.map((s) => s.connected));
    const subs = roomSockets.flatMap((ws) => Array.from({ length: 50 }, () => ws.subscribe(MESSAGE_POSTED, { id: conversation })));
    // Generous: 1,000 subscription starts (a tenant transaction each) share two cores with the rest of the suite.
    await eventually(() => roomServer.realtime.subscriptionsOf(room.id) >= 1000, '1,000 subscriptions to start', 150_000);
    // Let the wake-ups of the subscriptions' own starts settle before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = roomServer.statements.length;
    await post(room, conversation, 'to everyone');
    await Promise.all(subs.map((sub) => sub.waitFor(1, 20_000)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = roomServer.statements.slice(before);
    // The writer's request (prologue with its user, insert, audit, commit) comes first; then the one batch.
    const batch = after.slice(after.findIndex((sql) => /enter_tenant\('\d+',null/.test(sql)));
    const kinds = batch.map((sql) => (/enter_tenant\('\d+',null/.test(sql) ? 'prologue' : /realtime_events/.test(sql) ? 'read' : sql.trim()));
    // The batch that delivered (the first): three statements for all 1,000. A later wake-up (e.g. a late start's)
    // may run another batch that finds nothing; it has the same three statements.
    expect(kinds.slice(0, 3)).toEqual(['prologue', 'read', 'commit']);
    expect(kinds.join(',')).toMatch(/^(prologue,read,commit,?)+$/);
    expect(subs.every((sub) => sub.data.length === 1 && sub.data[0].messagePosted.message.body === 'to everyone')).toBe(true);
    await Promise.all(roomSockets.map((s) => s.close()));
    await roomServer.close();
  }, 200_000);
});

describe('connection_init authentication', () => {
  it('refuses a connection without a token with 4401 and a reason', async () => {
    const { code, reason } = await socket(undefined).closed;
    expect(code).toBe(4401);
    expect(reason).toMatch(/Authorization/);
  });

  it('accepts the lower-case authorization key too', async () => {
    const ws = socket({ authorization: `Bearer ${tenant.admin.token}` });
    await ws.connected;
  });

  it('refuses a badly signed token with 4401', async () => {
    const token = tenant.admin.token;
    const forged = `${token.slice(0, -4)}${token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const { code, reason } = await socket(bearer(forged)).closed;
    expect(code).toBe(4401);
    expect(reason).toMatch(/signature|malformed|verified/i);
  });

  it('refuses a token of a user who is not a member with 4403', async () => {
    const token = await tokenFor(tenant.id, '00000000-0000-4000-8000-000000000000');
    const { code, reason } = await socket(bearer(token)).closed;
    expect(code).toBe(4403);
    expect(reason).toMatch(/not a member/);
  });

  it('closes the socket with 4401 when the token expires', async () => {
    const token = await tokenFor(tenant.id, tenant.admin.id, '2s');
    const ws = socket(bearer(token));
    await ws.connected;
    const startedAt = Date.now();
    const { code, reason } = await ws.closed;
    expect(code).toBe(4401);
    expect(reason).toMatch(/expired/);
    expect(Date.now() - startedAt).toBeLessThan(4000);
  });
});

describe('subscription documents', () => {
  it('refuses queries and mutations over the socket, pointing to HTTP', async () => {
    const ws = socket(bearer(tenant.admin.token));
    const sub = ws.subscribe('{ viewer { user { id } } }');
    await sub.ended;
    expect(sub.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(sub.errors[0].message).toMatch(/HTTP/);
  });

  it('applies the depth limit of HTTP documents', async () => {
    const ws = socket(bearer(tenant.admin.token));
    const deep = `subscription { conversationChanged { conversation { lastMessage { conversation { lastMessage { conversation { lastMessage { conversation { lastMessage { conversation { lastMessage { id } } } } } } } } } } } }`;
    const sub = ws.subscribe(deep);
    await sub.ended;
    expect(sub.errors[0].extensions.code).toBe('QUERY_TOO_DEEP');
  });

  it('refuses an unknown field as a validation error', async () => {
    const ws = socket(bearer(tenant.admin.token));
    const sub = ws.subscribe('subscription { nothingHere }');
    await sub.ended;
    expect(sub.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses a malformed conversation id as BAD_USER_INPUT', async () => {
    const ws = socket(bearer(tenant.admin.token));
    const sub = ws.subscribe(MESSAGE_POSTED, { id: 'nope' });
    await sub.ended;
    expect(sub.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

describe('subscription limits', () => {
  it('refuses a subscription beyond the per-socket limit with TOO_MANY_SUBSCRIPTIONS', async () => {
    const limited = await startTestServer({ realtime: { maxSubscriptionsPerSocket: 2, maxSubscriptionsPerTenant: 3 } });
    try {
      const own = await createTestTenant();
      const first = openSocket(limited, bearer(own.admin.token));
      const second = openSocket(limited, bearer(own.admin.token));
      const [a, b] = [first.subscribe(CONVERSATION_CHANGED), first.subscribe(CONVERSATION_CHANGED)];
      await eventually(() => limited.realtime.subscriptionsOf(own.id) === 2, 'two subscriptions');
      const third = first.subscribe(CONVERSATION_CHANGED);
      await third.ended;
      expect(third.errors[0].extensions).toMatchObject({
        code: 'TOO_MANY_SUBSCRIPTIONS',
        limit: 'maxSubscriptionsPerSocket',
        maxSubscriptionsPerSocket: 2,
      });
      const c = second.subscribe(CONVERSATION_CHANGED);
      await eventually(() => limited.realtime.subscriptionsOf(own.id) === 3, 'three subscriptions');
      const fourth = second.subscribe(CONVERSATION_CHANGED);
      await fourth.ended;
      expect(fourth.errors[0].extensions).toMatchObject({ code: 'TOO_MANY_SUBSCRIPTIONS', limit: 'maxSubscriptionsPerTenant' });
      // Another tenant is not affected by this tenant's subscriptions.
      const neighbour = await createTestTenant();
      const theirs = openSocket(limited, bearer(neighbour.admin.token)).subscribe(CONVERSATION_CHANGED);
      await eventually(() => limited.realtime.subscriptionsOf(neighbour.id) === 1, "the neighbour's subscription");
      for (const s of [a, b, c, theirs]) s.dispose();
      await Promise.all([first.close(), second.close()]);
    } finally {
      await limited.close();
    }
  });
});

describe('socket limits', () => {
  it("closes a tenant's socket beyond REALTIME_MAX_SOCKETS_PER_TENANT with 4430, and frees the slot when one closes", async () => {
    const limited = await startTestServer({ realtime: { maxSocketsPerTenant: 2 } });
    try {
      const own = await createTestTenant();
      const [one, two] = [openSocket(limited, bearer(own.admin.token)), openSocket(limited, bearer(own.admin.token))];
      await Promise.all([one.connected, two.connected]);
      const three = openSocket(limited, bearer(own.admin.token));
      const refused = await three.closed;
      expect(refused.code).toBe(4430);
      expect(refused.reason).toMatch(/Too many sockets/);
      const neighbour = openSocket(limited, bearer((await createTestTenant()).admin.token));
      await neighbour.connected;
      await one.close();
      await one.closed;
      // The server notices the close a moment later; until then a fourth socket may still be refused.
      let four = openSocket(limited, bearer(own.admin.token));
      for (
        let attempt = 0;
        attempt < 20 && (await Promise.race([four.connected.then(() => 'open'), four.closed.then(() => 'closed')])) === 'closed';
        attempt++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        four = openSocket(limited, bearer(own.admin.token));
      }
      await four.connected;
      await Promise.all([two.close(), four.close(), neighbour.close()]);
    } finally {
      await limited.close();
    }
  });
});

describe('Subscription.conversationChanged', () => {
  it('delivers created, renamed and archived, in commit order, with the current conversation', async () => {
    const ws = socket(bearer(tenant.admin.token));
    const already = server.realtime.subscriptionsOf(tenant.id);
    const sub = ws.subscribe(CONVERSATION_CHANGED);
    await eventually(() => server.realtime.subscriptionsOf(tenant.id) > already, 'the subscription to start');
    const id = await createConversation(tenant, 'before');
    await graphql(tenant.admin.token, 'mutation($id: ID!) { renameConversation(input: { id: $id, title: "after" }) { conversation { id } } }', {
      id,
    });
    await graphql(tenant.admin.token, 'mutation($id: ID!) { archiveConversation(input: { id: $id }) { conversation { id } } }', { id });
    const events = await sub.waitFor(3);
    const own = events.map((e) => e.conversationChanged).filter((e) => e.conversationId === id);
    expect(own.map((e) => e.kind)).toEqual(['CREATED', 'RENAMED', 'ARCHIVED']);
    expect(own[2].conversation).toMatchObject({ id, archived: true });
  });
});

describe('realtime audit and metrics', () => {
  it("audits a subscription's start and its end with the duration and the events delivered; /metrics counts without tenant labels", async () => {
    const own = await createTestTenant();
    const conversation = await createConversation(own, 'audited');
    const ws = socket(bearer(own.admin.token));
    const sub = ws.subscribe(`subscription Audited($id: ID!) { messagePosted(conversationId: $id) { cursor } }`, { id: conversation });
    await eventually(() => server.realtime.subscriptionsOf(own.id) > 0, 'the subscription to start');
    await post(own, conversation, 'one');
    await post(own, conversation, 'two');
    await sub.waitFor(2);
    sub.dispose();
    await eventually(() => server.realtime.subscriptionsOf(own.id) === 0, 'the subscription to end');
    await server.audit.flush();
    const data = await graphql(
      own.admin.token,
      '{ auditEvents(first: 50, filter: { operationType: SUBSCRIPTION }) { nodes { operationName outcome durationMs eventsDelivered } } }',
    );
    const audited = data.auditEvents.nodes.filter((event: { operationName: string | null }) => event.operationName === 'Audited');
    expect(audited).toEqual(
      expect.arrayContaining([
        { operationName: 'Audited', outcome: 'COMMITTED', durationMs: expect.any(Number), eventsDelivered: null },
        { operationName: 'Audited', outcome: 'COMMITTED', durationMs: expect.any(Number), eventsDelivered: 2 },
      ]),
    );
    expect(audited).toHaveLength(2);
    const metrics = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    const realtime = metrics.split('\n').filter((line) => line.startsWith('tenantgraph_realtime_'));
    expect(realtime.some((line) => /^tenantgraph_realtime_events_delivered_total [1-9]/.test(line))).toBe(true);
    expect(realtime.some((line) => line.startsWith('tenantgraph_realtime_commit_to_send_seconds_count'))).toBe(true);
    expect(realtime.some((line) => /^tenantgraph_realtime_batches_total\{outcome="ok"\} [1-9]/.test(line))).toBe(true);
    expect(realtime.filter((line) => /tenant/.test(line.replace(/^tenantgraph_/, '')))).toEqual([]);
  });
});

describe('trusted documents over the socket', () => {
  it("runs the SDK's subscription documents from the manifest and refuses any other text with OPERATION_NOT_TRUSTED", async () => {
    const trusted = loadTrustedDocuments(path.resolve('src/__generated__/sdk/persisted-documents.json'));
    const messagePosted = [...trusted.texts].find((text) => text.startsWith('subscription MessagePosted'))!;
    expect(messagePosted).toBeDefined();
    const locked = await startTestServer({ trustedDocuments: trusted, realtime: { listenUrl: null, pollIntervalMs: 200 } });
    try {
      const own = await createTestTenant();
      const { json } = await locked.post(
        { query: [...trusted.texts].find((text) => text.startsWith('mutation CreateConversation'))!, variables: { input: { title: 'trusted' } } },
        { authorization: `Bearer ${own.admin.token}` },
      );
      const conversation = json.data.createConversation.conversation.id as string;
      const ws = openSocket(locked, bearer(own.admin.token));
      const sdk = ws.subscribe(messagePosted, { conversationId: conversation });
      const adHoc = ws.subscribe(MESSAGE_POSTED, { id: conversation });
      await adHoc.ended;
      expect(adHoc.errors.map((e) => e.extensions.code)).toEqual(['OPERATION_NOT_TRUSTED']);
      await eventually(() => locked.realtime.subscriptionsOf(own.id) > 0, 'the trusted subscription');
      const postText = [...trusted.texts].find((text) => text.startsWith('mutation PostMessage'))!;
      await locked.post(
        { query: postText, variables: { input: { conversationId: conversation, body: 'sdk' } } },
        { authorization: `Bearer ${own.admin.token}` },
      );
      const [event] = await sdk.waitFor(1);
      expect(event.messagePosted.message.body).toBe('sdk');
      await ws.close();
    } finally {
      await locked.close();
    }
  });

  it('takes a trusted subscription by id, as HTTP does (documentId or persistedQuery hash, with an empty query)', async () => {
    const trusted = loadTrustedDocuments(path.resolve('src/__generated__/sdk/persisted-documents.json'));
    const [id, text] = [...trusted.byId].find(([, body]) => body.startsWith('subscription MessagePosted'))!;
    const locked = await startTestServer({ trustedDocuments: trusted, realtime: { listenUrl: null, pollIntervalMs: 200 } });
    try {
      const own = await createTestTenant();
      const conversation = await createConversation(own);
      const ws = openSocket(locked, bearer(own.admin.token));
      await ws.connected;
      const variables = { conversationId: conversation };
      const byDocumentId = rawSubscription(ws, { query: '', documentId: id, variables });
      const byHash = rawSubscription(ws, {
        query: '',
        extensions: { persistedQuery: { version: 1, sha256Hash: id.slice('sha256:'.length) } },
        variables,
      });
      const unknown = rawSubscription(ws, { query: '', documentId: `sha256:${'0'.repeat(64)}`, variables });
      const mismatched = rawSubscription(ws, { query: text.replace('cursor', 'cursor cursor'), documentId: id, variables });
      await Promise.all([unknown.ended, mismatched.ended]);
      expect(unknown.errors.map((e) => e.extensions.code)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(mismatched.errors.map((e) => e.extensions.code)).toEqual(['OPERATION_NOT_TRUSTED']);
      await eventually(() => locked.realtime.subscriptionsOf(own.id) === 2, 'the two subscriptions by id');
      await post(own, conversation, 'by id');
      await eventually(() => byDocumentId.data.length === 1 && byHash.data.length === 1, 'both deliveries');
      expect(byDocumentId.data[0].messagePosted.message.body).toBe('by id');
      expect(byHash.data).toEqual(byDocumentId.data);
      await ws.close();
    } finally {
      await locked.close();
    }
  });
});

/** A subscription with a payload of any shape (what a client sending an id puts on the wire). */
function rawSubscription(ws: TestSocket, payload: Record<string, unknown>) {
  const received = { data: [] as any[], errors: [] as any[], ended: undefined as unknown as Promise<void> };
  received.ended = new Promise<void>((resolve) => {
    ws.client.subscribe(payload as never, {
      next: (result: any) => result.data && received.data.push(result.data),
      error: (error: unknown) => {
        received.errors.push(...(Array.isArray(error) ? error : [error]));
        resolve();
      },
      complete: () => resolve(),
    });
  });
  return received;
}
