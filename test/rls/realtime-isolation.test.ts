import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOwnerClient } from '../support/owner-db.js';
import {
  bearer,
  CONVERSATION_CHANGED,
  createConversation,
  directAppUrl,
  eventually,
  MESSAGE_POSTED,
  openSocket,
  postMessage,
  type Subscription,
  type TestSocket,
} from '../support/realtime-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * Realtime isolation and delivery guarantees on the real database (and, in CI's third run, with the app role
 * through PgBouncer in transaction pooling mode while the LISTEN connection goes straight to PostgreSQL).
 */
let server: TestServer;
let a: TestTenant;
let b: TestTenant;
const sockets: TestSocket[] = [];

function socket(token: string): TestSocket {
  const opened = openSocket(server, bearer(token));
  sockets.push(opened);
  return opened;
}

async function started(tenant: TestTenant, count: number): Promise<void> {
  await eventually(() => server.realtime.subscriptionsOf(tenant.id) >= count, `${count} subscriptions of tenant ${tenant.id}`);
}

beforeAll(async () => {
  server = await startTestServer({ pool: { max: 8, acquireTimeoutMs: 5000 }, realtime: { listenUrl: directAppUrl() } });
  [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.close();
});

describe('realtime isolation', () => {
  it("refuses another tenant's conversation as NOT_FOUND, exactly like one that does not exist", async () => {
    const theirs = await createConversation(server, b.admin.token, 'b only');
    const ws = socket(a.admin.token);
    const foreign = ws.subscribe(MESSAGE_POSTED, { id: theirs });
    const missing = ws.subscribe(MESSAGE_POSTED, { id: Buffer.from('Conversation:00000000-0000-4000-8000-000000000000').toString('base64url') });
    await Promise.all([foreign.ended, missing.ended]);
    expect(foreign.errors.map((e) => e.extensions.code)).toEqual(['NOT_FOUND']);
    expect(missing.errors.map((e) => e.extensions.code)).toEqual(['NOT_FOUND']);
    expect(foreign.data).toEqual([]);
  });

  it("refuses another tenant's cursor and never replays its events", async () => {
    const theirs = await createConversation(server, b.admin.token, 'b cursor');
    const bSocket = socket(b.admin.token);
    const bSub = bSocket.subscribe(CONVERSATION_CHANGED);
    await started(b, 1);
    await createConversation(server, b.admin.token, 'b event');
    const [event] = await bSub.waitFor(1);
    const ws = socket(a.admin.token);
    const stolen = ws.subscribe(CONVERSATION_CHANGED, { after: event.conversationChanged.cursor });
    const stolenRoom = ws.subscribe(MESSAGE_POSTED, { id: theirs, after: event.conversationChanged.cursor });
    await Promise.all([stolen.ended, stolenRoom.ended]);
    expect(stolen.errors.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    expect(stolen.data).toEqual([]);
    expect(stolenRoom.data).toEqual([]);
    bSub.dispose();
  });

  it('delivers every entitled event exactly once and no foreign one while both tenants write concurrently', async () => {
    const [aRoom, bRoom] = await Promise.all([
      createConversation(server, a.admin.token, 'a room'),
      createConversation(server, b.admin.token, 'b room'),
    ]);
    const aWs = socket(a.admin.token);
    const bWs = socket(b.admin.token);
    const before = [server.realtime.subscriptionsOf(a.id), server.realtime.subscriptionsOf(b.id)];
    const aMessages = aWs.subscribe(MESSAGE_POSTED, { id: aRoom });
    const aChanges = aWs.subscribe(CONVERSATION_CHANGED);
    // B subscribes to A's room id: refused, and it must not see A's messages by any other route.
    const bProbe = bWs.subscribe(MESSAGE_POSTED, { id: aRoom });
    const bMessages = bWs.subscribe(MESSAGE_POSTED, { id: bRoom });
    await started(a, before[0]! + 2);
    await started(b, before[1]! + 1);
    const writes = 40;
    const posted = await Promise.all(
      Array.from({ length: writes }, (_, i) =>
        i % 2 === 0 ? postMessage(server, a.admin.token, aRoom, `a-${i}`) : postMessage(server, b.admin.token, bRoom, `b-${i}`),
      ),
    );
    const aIds = posted.filter((_, i) => i % 2 === 0);
    const bIds = posted.filter((_, i) => i % 2 === 1);
    const created = await createConversation(server, b.admin.token, 'b created');
    await aMessages.waitFor(aIds.length);
    await bMessages.waitFor(bIds.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const ids = (sub: Subscription) => sub.data.map((d) => d.messagePosted.message.id);
    expect(new Set(ids(aMessages))).toEqual(new Set(aIds));
    expect(ids(aMessages)).toHaveLength(aIds.length);
    expect(new Set(ids(bMessages))).toEqual(new Set(bIds));
    expect(ids(bMessages)).toHaveLength(bIds.length);
    expect(bProbe.errors.map((e) => e.extensions.code)).toEqual(['NOT_FOUND']);
    expect(bProbe.data).toEqual([]);
    // A's conversation feed sees nothing of B's conversations.
    expect(aChanges.data.map((d) => d.conversationChanged.conversationId)).not.toContain(created);
    // Cursors are strictly increasing positions: commit order, no duplicate.
    const positions = aMessages.data.map((d) => Number(Buffer.from(d.messagePosted.cursor, 'base64url').toString().split(':')[2]));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    for (const sub of [aMessages, aChanges, bMessages]) sub.dispose();
  });

  it('resumes mid-stream under many concurrent writers with no gap and no duplicate', async () => {
    const room = await createConversation(server, a.admin.token, 'resume room');
    const writers = await Promise.all(Array.from({ length: 4 }, () => a.addUser()));
    const ws = socket(a.admin.token);
    const before = server.realtime.subscriptionsOf(a.id);
    const first = ws.subscribe(MESSAGE_POSTED, { id: room });
    await started(a, before + 1);
    const total = 120;
    let sent = 0;
    const posted: string[] = [];
    // Four writers commit concurrently (positions are taken in commit order, not in statement order).
    const writing = Promise.all(
      writers.map(async (writer) => {
        while (sent < total) {
          sent++;
          posted.push(await postMessage(server, writer.token, room, `m-${sent}`));
        }
      }),
    );
    await first.waitFor(30, 20_000);
    first.dispose();
    const received = first.data.map((d) => d.messagePosted);
    const last = received[received.length - 1]!.cursor;
    const resumed = ws.subscribe(MESSAGE_POSTED, { id: room, after: last });
    await writing;
    await eventually(() => received.length + resumed.data.length >= posted.length, 'every message after the resume', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = [...received.map((e) => e.message.id), ...resumed.data.map((d) => d.messagePosted.message.id)];
    expect(all).toHaveLength(posted.length);
    expect(new Set(all)).toEqual(new Set(posted));
    resumed.dispose();
  }, 60_000);

  it('stops delivering to a member removed from the tenant, closing its socket with 4403', async () => {
    const room = await createConversation(server, a.admin.token, 'removal room');
    const member = await a.addUser();
    const ws = socket(member.token);
    const before = server.realtime.subscriptionsOf(a.id);
    const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
    await started(a, before + 1);
    await postMessage(server, a.admin.token, room, 'still a member');
    await sub.waitFor(1);
    await withOwnerClient((client) => client.query('delete from users where tenant_id = $1 and id = $2', [a.id, member.id]));
    await postMessage(server, a.admin.token, room, 'after the removal');
    const closed = await ws.closed;
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/no longer a member/);
    expect(sub.data.map((d) => d.messagePosted.message.body)).toEqual(['still a member']);
  });
});
