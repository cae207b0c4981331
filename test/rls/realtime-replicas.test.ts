import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PostgresWakeChannel } from '../../src/realtime/postgres-wake-channel.js';
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
  socketUrl,
  type TestSocket,
} from '../support/realtime-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * Realtime across API servers on one database, and its faults: the writer's server and the subscriber's are
 * different processes' worth of state (two servers, two pools, two LISTEN connections). Polling is pushed out of
 * the way (10 minutes) wherever a test proves another path, so only that path can make it pass.
 */
const NO_POLL = 600_000;
let writer: TestServer;
let reader: TestServer;
let tenant: TestTenant;
const sockets: TestSocket[] = [];

function socket(server: TestServer, token = tenant.admin.token): TestSocket {
  const opened = openSocket(server, bearer(token));
  sockets.push(opened);
  return opened;
}

beforeAll(async () => {
  [writer, reader] = await Promise.all([
    startTestServer({ realtime: { listenUrl: directAppUrl(), pollIntervalMs: NO_POLL } }),
    startTestServer({ realtime: { listenUrl: directAppUrl(), pollIntervalMs: NO_POLL } }),
  ]);
  tenant = await createTestTenant();
});

afterAll(async () => {
  await Promise.all(sockets.map((s) => s.close()));
  await Promise.all([writer?.close(), reader?.close()]);
});

describe('realtime across servers', () => {
  it("delivers a write on one server to a subscriber on the other (PostgreSQL notification, outside the writer's transaction)", async () => {
    const room = await createConversation(writer, tenant.admin.token, 'two servers');
    const sub = socket(reader).subscribe(MESSAGE_POSTED, { id: room });
    await eventually(() => reader.realtime.subscriptionsOf(tenant.id) > 0, 'the subscription on the reader');
    const startedAt = Date.now();
    const id = await postMessage(writer, tenant.admin.token, room, 'across');
    const [event] = await sub.waitFor(1, 5000);
    expect(event.messagePosted.message.id).toBe(id);
    expect(Date.now() - startedAt).toBeLessThan(2000);
    sub.dispose();
  });

  it('loses no event when the LISTEN connection is terminated (pg_terminate_backend): the reconnect re-reads the tenant', async () => {
    const room = await createConversation(writer, tenant.admin.token, 'listener killed');
    const before = reader.realtime.subscriptionsOf(tenant.id);
    const sub = socket(reader).subscribe(MESSAGE_POSTED, { id: room });
    await eventually(() => reader.realtime.subscriptionsOf(tenant.id) > before, 'the subscription on the reader');
    const listener = reader.realtime.wakeTransports.find((transport) => transport instanceof PostgresWakeChannel)!;
    const pid = listener.backendPid!;
    await withOwnerClient((client) => client.query('select pg_terminate_backend($1)', [pid]));
    // Written while the reader's listener is down: its notification is lost for good.
    const during = await postMessage(writer, tenant.admin.token, room, 'during the outage');
    await eventually(() => listener.connected && listener.backendPid !== pid, 'the listener to reconnect');
    const after = await postMessage(writer, tenant.admin.token, room, 'after the outage');
    const events = await sub.waitFor(2, 10_000);
    expect(events.map((e) => e.messagePosted.message.id)).toEqual([during, after]);
    sub.dispose();
  });

  it('falls back to polling when a server has no LISTEN connection', async () => {
    const polling = await startTestServer({ realtime: { listenUrl: null, pollIntervalMs: 200 } });
    try {
      const room = await createConversation(writer, tenant.admin.token, 'polled');
      const ws = openSocket(polling, bearer(tenant.admin.token));
      const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
      await eventually(() => polling.realtime.subscriptionsOf(tenant.id) > 0, 'the subscription');
      const id = await postMessage(writer, tenant.admin.token, room, 'polled');
      const [event] = await sub.waitFor(1, 5000);
      expect(event.messagePosted.message.id).toBe(id);
      await ws.close();
    } finally {
      await polling.close();
    }
  });

  it('closes every socket with 1001 "going away" on a graceful stop, after the deliveries in flight', async () => {
    // A long batch window: the message's batch is surely still waiting when the stop begins.
    const stopping = await startTestServer({ realtime: { listenUrl: directAppUrl(), pollIntervalMs: NO_POLL, batchWindowMs: 3000 } });
    const room = await createConversation(stopping, tenant.admin.token, 'stopping');
    const ws = openSocket(stopping, bearer(tenant.admin.token));
    const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
    await eventually(() => stopping.realtime.subscriptionsOf(tenant.id) > 0, 'the subscription');
    await new Promise((resolve) => setTimeout(resolve, 3200));
    const id = await postMessage(stopping, tenant.admin.token, room, 'last words');
    // Stop at once: the batch the commit woke is in flight (its window has not even passed).
    await stopping.close();
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(sub.data.map((d) => d.messagePosted.message.id)).toEqual([id]);
  });
});

describe('resume retention', () => {
  it('refuses a cursor more than REALTIME_RETENTION_EVENTS behind with CURSOR_EXPIRED, and replays one within it', async () => {
    const short = await startTestServer({ realtime: { listenUrl: null, retentionEvents: 3, pollIntervalMs: 200 } });
    try {
      const own = await createTestTenant();
      const ws = openSocket(short, bearer(own.admin.token));
      const changes = ws.subscribe(CONVERSATION_CHANGED);
      await eventually(() => short.realtime.subscriptionsOf(own.id) > 0, 'the subscription');
      for (let i = 0; i < 5; i++) await createConversation(short, own.admin.token, `c${i}`);
      const events = await changes.waitFor(5);
      const cursors = events.map((e) => e.conversationChanged.cursor);
      const expired = ws.subscribe(CONVERSATION_CHANGED, { after: cursors[0] });
      await expired.ended;
      expect(expired.errors.map((e) => e.extensions.code)).toEqual(['CURSOR_EXPIRED']);
      expect(expired.errors[0].message).toMatch(/refetch/);
      const replay = ws.subscribe(CONVERSATION_CHANGED, { after: cursors[2] });
      const replayed = await replay.waitFor(2);
      expect(replayed.map((e) => e.conversationChanged.cursor)).toEqual(cursors.slice(3));
      // Pruning deletes what is past retention; a cursor at the boundary then finds its next event gone.
      expect(await short.realtime.pruneTenant(own.id)).toBe(2);
      const pruned = ws.subscribe(CONVERSATION_CHANGED, { after: cursors[0] });
      await pruned.ended;
      expect(pruned.errors.map((e) => e.extensions.code)).toEqual(['CURSOR_EXPIRED']);
      await ws.close();
    } finally {
      await short.close();
    }
  });
});

describe('flow control', () => {
  it('replays far more events than a queue holds to a client that reads, without dropping it (the queue refills as it drains)', async () => {
    const small = await startTestServer({ realtime: { listenUrl: null, pollIntervalMs: NO_POLL, queueMaxEvents: 3, maxEventsPerBatch: 500 } });
    try {
      const own = await createTestTenant();
      const room = await createConversation(small, own.admin.token, 'replay');
      const ws = openSocket(small, bearer(own.admin.token));
      const live = ws.subscribe(MESSAGE_POSTED, { id: room });
      await eventually(() => small.realtime.subscriptionsOf(own.id) > 0, 'the subscription');
      await postMessage(small, own.admin.token, room, 'first');
      const [first] = await live.waitFor(1);
      live.dispose();
      const posted: string[] = [];
      for (let i = 0; i < 60; i++) posted.push(await postMessage(small, own.admin.token, room, `m${i}`));
      const replay = ws.subscribe(MESSAGE_POSTED, { id: room, after: first.messagePosted.cursor });
      const replayed = await replay.waitFor(60, 20_000);
      expect(replayed.map((e) => e.messagePosted.message.id)).toEqual(posted);
      expect(replay.errors).toEqual([]);
      await ws.close();
    } finally {
      await small.close();
    }
  });
});

describe('slow consumers', () => {
  it('closes a socket whose subscriber queue stays full with 4413, without buffering beyond the bound', async () => {
    const bounded = await startTestServer({
      limits: { maxCost: 1_000_000 },
      realtime: { listenUrl: null, pollIntervalMs: 100, queueMaxEvents: 2, queueMaxBytes: 64 * 1024, slowConsumerMs: 300 },
    });
    try {
      const own = await createTestTenant();
      const room = await createConversation(bounded, own.admin.token, 'slow');
      const big = 'x'.repeat(10_000);
      for (let i = 0; i < 20; i++) await postMessage(bounded, own.admin.token, room, big);
      // A raw client that subscribes, then stops reading from its TCP socket.
      const raw = new WebSocket(socketUrl(bounded), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)));
      await new Promise((resolve) => raw.once('open', resolve));
      raw.send(JSON.stringify({ type: 'connection_init', payload: bearer(own.admin.token) }));
      await new Promise((resolve) => raw.once('message', resolve));
      // Each event carries ~1 MB (a page of 100 large messages): the kernel's socket buffers fill after a few.
      const query = `subscription($id: ID!) { messagePosted(conversationId: $id) { cursor message { conversation { messages(first: 100) { nodes { body } } } } } }`;
      raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: { id: room } } }));
      await eventually(() => bounded.realtime.subscriptionsOf(own.id) > 0, 'the subscription');
      (raw as unknown as { _socket: { pause(): void } })._socket.pause();
      for (let i = 0; i < 30; i++) await postMessage(bounded, own.admin.token, room, `live ${i}`);
      await eventually(() => bounded.realtime.subscriptionsOf(own.id) === 0, 'the slow consumer to be dropped', 20_000);
      const metrics = await (await fetch(bounded.url.replace('/graphql', '/metrics'))).text();
      expect(metrics).toMatch(/tenantgraph_realtime_slow_consumers_dropped_total 1/);
      (raw as unknown as { _socket: { resume(): void } })._socket.resume();
      expect(await closed).toBe(4413);
    } finally {
      await bounded.close();
    }
  }, 60_000);
});
