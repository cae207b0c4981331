import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOwnerClient } from '../../test/support/owner-db.js';
import {
  bearer,
  createConversation,
  eventually,
  MESSAGE_POSTED,
  openSocket,
  postMessage,
  type TestSocket,
} from '../../test/support/realtime-client.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { createTestTenant, type TestTenant } from '../../test/support/tenants.js';
import { PerSubscriberFeed } from '../lib/per-subscriber-feed.js';

// The realtime benchmark's baseline (one RLS transaction per subscriber per event) must deliver what the
// product's fan-out delivers — every entitled event once, in order, nothing foreign — or its figures compare
// nothing. The counts below also show it is the per-subscriber design it claims to be.
let server: TestServer;
let a: TestTenant;
let b: TestTenant;
const sockets: TestSocket[] = [];

function socket(token: string): TestSocket {
  const opened = openSocket(server, bearer(token));
  sockets.push(opened);
  return opened;
}

beforeAll(async () => {
  server = await startTestServer({ realtimeFeed: (tenantId, settings) => new PerSubscriberFeed(tenantId, settings) });
  [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await server?.close();
});

describe('the per-subscriber realtime baseline', () => {
  it('delivers each entitled message once, in order, and nothing of another conversation or tenant', async () => {
    const [aRoom, aOther, bRoom] = await Promise.all([
      createConversation(server, a.admin.token, 'a room'),
      createConversation(server, a.admin.token, 'a other'),
      createConversation(server, b.admin.token, 'b room'),
    ]);
    const aSubs = [socket(a.admin.token), socket(a.admin.token), socket(a.admin.token)].map((ws) => ws.subscribe(MESSAGE_POSTED, { id: aRoom }));
    const bSub = socket(b.admin.token).subscribe(MESSAGE_POSTED, { id: bRoom });
    await eventually(() => server.realtime.subscriptionsOf(a.id) === 3 && server.realtime.subscriptionsOf(b.id) === 1, 'four subscriptions');
    const transactionsBefore = await batchCount();
    for (let i = 0; i < 5; i++) {
      await Promise.all([
        postMessage(server, a.admin.token, aRoom, `a${i}`),
        postMessage(server, a.admin.token, aOther, `other${i}`),
        postMessage(server, b.admin.token, bRoom, `b${i}`),
      ]);
    }
    for (const sub of aSubs) {
      await sub.waitFor(5);
      expect(sub.data.map((d) => d.messagePosted.message.body)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    }
    await bSub.waitFor(5);
    expect(bSub.data.map((d) => d.messagePosted.message.body)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    // One transaction per subscriber per message it received (20 deliveries); the product's fan-out needs at most
    // one per tenant per post (15 posts) plus the odd polling batch.
    expect((await batchCount()) - transactionsBefore).toBeGreaterThanOrEqual(20);
  });

  it('ends the subscription of a user removed from the tenant (its own transaction enters it as that user)', async () => {
    const room = await createConversation(server, a.admin.token, 'removal room');
    const member = await a.addUser();
    const ws = socket(member.token);
    const before = server.realtime.subscriptionsOf(a.id);
    const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
    await eventually(() => server.realtime.subscriptionsOf(a.id) === before + 1, 'the subscription');
    await postMessage(server, a.admin.token, room, 'still a member');
    await sub.waitFor(1);
    await withOwnerClient((client) => client.query('delete from users where tenant_id = $1 and id = $2', [a.id, member.id]));
    await postMessage(server, a.admin.token, room, 'after the removal');
    expect((await ws.closed).code).toBe(4403);
    expect(sub.data.map((d) => d.messagePosted.message.body)).toEqual(['still a member']);
  });
});

async function batchCount(): Promise<number> {
  const text = await (await fetch(`${server.url.replace(/\/graphql$/, '')}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('tenantgraph_realtime_batches_total'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
