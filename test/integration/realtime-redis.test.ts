import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWakeChannel } from '../../src/realtime/redis-wake-channel.js';
import { WakeTransportUnavailable } from '../../src/realtime/wake-transport.js';
import { scrapeMetrics } from '../support/prometheus.js';
import {
  bearer,
  createConversation,
  directAppUrl,
  eventually,
  MESSAGE_POSTED,
  openSocket,
  postMessage,
  type TestSocket,
} from '../support/realtime-client.js';
import { killRedisConnectionsNamed, redisConnectionIds, REDIS_TEST_URL, redisAnswers, uniqueRedisChannel, withRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * Wake-ups between API servers over Redis pub/sub (REALTIME_REDIS_URL), against the real Redis of this machine.
 * Two servers on one database, no LISTEN connection, and the polling safety net pushed out of the way (the poll
 * timer also runs at REALTIME_SLOW_CONSUMER_MS, so both are long): a write on one server reaches a subscriber on
 * the other only through Redis. Each run uses a channel of its own, so test files running at once do not wake
 * each other.
 */
const available = await redisAnswers();
const NOT_SOON = 600_000;
const channel = uniqueRedisChannel();
let writer: TestServer;
let reader: TestServer;
let tenant: TestTenant;
const sockets: TestSocket[] = [];

const viaRedisOnly = { listenUrl: null, redisUrl: REDIS_TEST_URL, redisChannel: channel, pollIntervalMs: NOT_SOON, slowConsumerMs: NOT_SOON };

function redisOf(server: TestServer): RedisWakeChannel {
  const transport = server.realtime.wakeTransports.find((candidate) => candidate instanceof RedisWakeChannel);
  if (!transport) throw new Error('the server has no Redis wake-up transport');
  return transport;
}

async function counter(server: TestServer, name: string, labels: Record<string, string>): Promise<number> {
  return (await scrapeMetrics(server.port)).value(name, labels) ?? 0;
}

/**
 * A subscription on the reader whose start-up batch is over: a message posted on the reader itself (woken in
 * process) has arrived, so whatever arrives next was woken by something else.
 */
async function quietSubscription(room: string, on = reader) {
  const socket = openSocket(on, bearer(tenant.admin.token));
  sockets.push(socket);
  const subscription = socket.subscribe(MESSAGE_POSTED, { id: room });
  const before = on.realtime.subscriptionsOf(tenant.id);
  await eventually(() => on.realtime.subscriptionsOf(tenant.id) > before, 'the subscription on the reader');
  const local = await postMessage(on, tenant.admin.token, room, 'posted on the reader');
  const [first] = await subscription.waitFor(1);
  expect(first.messagePosted.message.id).toBe(local);
  return subscription;
}

describe.skipIf(!available)(`realtime wake-ups over Redis (${REDIS_TEST_URL})`, () => {
  beforeAll(async () => {
    [writer, reader] = await Promise.all([startTestServer({ realtime: viaRedisOnly }), startTestServer({ realtime: viaRedisOnly })]);
    tenant = await createTestTenant();
  });

  afterAll(async () => {
    await Promise.all(sockets.map((socket) => socket.close()));
    await Promise.all([writer?.close(), reader?.close()]);
  });

  it('delivers a write on one server to a subscriber on the other through Redis, with no LISTEN and no polling', async () => {
    expect(writer.realtime.wakeTransports.map((transport) => transport.name)).toEqual(['redis']);
    const room = await createConversation(writer, tenant.admin.token, 'over redis');
    const subscription = await quietSubscription(room);
    const woken = await counter(reader, 'tenantgraph_realtime_wakeups_total', { source: 'notification' });
    const id = await postMessage(writer, tenant.admin.token, room, 'across replicas');
    const events = await subscription.waitFor(2);
    expect(events[1].messagePosted.message.id).toBe(id);
    expect(await counter(reader, 'tenantgraph_realtime_wakeups_total', { source: 'notification' })).toBeGreaterThan(woken);
    subscription.dispose();
  });

  it('publishes tenant ids only, on the channel of the sending server', async () => {
    const room = await createConversation(writer, tenant.admin.token, 'payload');
    await withRedis(async (client) => {
      const received: { message: string; channel: string }[] = [];
      await client.pSubscribe(`${channel}:*`, (message: string, from: string) => received.push({ message, channel: from }));
      await postMessage(writer, tenant.admin.token, room, 'the body never travels');
      await eventually(() => received.length > 0, 'the wake-up on the channel');
      for (const { message, channel: from } of received) {
        expect(message).toMatch(/^\d+(,\d+)*$/);
        expect(from).toMatch(new RegExp(`^${channel}:[0-9a-f]{12}$`));
      }
      expect(received.flatMap(({ message }) => message.split(','))).toContain(tenant.id);
    });
  });

  it("loses no event when the reader's Redis subscriber connection is killed (CLIENT KILL): the reconnect re-reads the tenant", async () => {
    const room = await createConversation(writer, tenant.admin.token, 'subscriber killed');
    const subscription = await quietSubscription(room);
    const reconnects = await counter(reader, 'tenantgraph_realtime_listener_reconnects_total', { transport: 'redis' });
    expect(await killRedisConnectionsNamed(redisOf(reader).connectionNames.subscriber)).toHaveLength(1);
    // Written while the reader's subscriber may be down: its wake-up may be lost for good; the reconnect re-reads.
    const during = await postMessage(writer, tenant.admin.token, room, 'during the outage');
    await eventually(
      async () => (await counter(reader, 'tenantgraph_realtime_listener_reconnects_total', { transport: 'redis' })) > reconnects,
      'the Redis subscriber to reconnect',
    );
    expect(redisOf(reader).connected).toBe(true);
    const after = await postMessage(writer, tenant.admin.token, room, 'after the outage');
    const events = await subscription.waitFor(3);
    expect(events.slice(1).map((event) => event.messagePosted.message.id)).toEqual([during, after]);
    subscription.dispose();
  });

  it('loses no event written while the reader cannot reach Redis at all: its reconnect re-reads the tenant', async () => {
    const redis = new URL(REDIS_TEST_URL);
    const proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = new URL(REDIS_TEST_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const cutOff = await startTestServer({ realtime: { ...viaRedisOnly, redisUrl: viaProxy.toString() } });
    try {
      const room = await createConversation(writer, tenant.admin.token, 'network cut');
      const subscription = await quietSubscription(room, cutOff);
      const reconnects = await counter(cutOff, 'tenantgraph_realtime_listener_reconnects_total', { transport: 'redis' });
      await proxy.cut();
      await eventually(() => !redisOf(cutOff).connected, 'the reader to lose Redis');
      // Its wake-up is published while the reader is subscribed to nothing: lost for good. Polling is 10 minutes away.
      const during = await postMessage(writer, tenant.admin.token, room, 'while the reader was cut off');
      await proxy.restore();
      await eventually(
        async () => (await counter(cutOff, 'tenantgraph_realtime_listener_reconnects_total', { transport: 'redis' })) > reconnects,
        'the reader to reconnect to Redis',
      );
      const events = await subscription.waitFor(2);
      expect(events[1].messagePosted.message.id).toBe(during);
      subscription.dispose();
    } finally {
      await cutOff.close();
      await proxy.close();
    }
  });

  it('with LISTEN and Redis both configured, wakes over either: a reader cut off from Redis still receives through PostgreSQL', async () => {
    const redis = new URL(REDIS_TEST_URL);
    const proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = new URL(REDIS_TEST_URL);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const both = { ...viaRedisOnly, listenUrl: directAppUrl() };
    const [bothWriter, bothReader] = await Promise.all([
      startTestServer({ realtime: both }),
      startTestServer({ realtime: { ...both, redisUrl: viaProxy.toString() } }),
    ]);
    try {
      expect(bothReader.realtime.wakeTransports.map((transport) => transport.name)).toEqual(['postgres', 'redis']);
      const room = await createConversation(bothWriter, tenant.admin.token, 'two transports');
      const subscription = await quietSubscription(room, bothReader);
      await proxy.cut();
      await eventually(() => !redisOf(bothReader).connected, 'the reader to lose Redis');
      const id = await postMessage(bothWriter, tenant.admin.token, room, 'while Redis was unreachable for the reader');
      const events = await subscription.waitFor(2);
      expect(events[1].messagePosted.message.id).toBe(id);
      expect(redisOf(bothReader).connected).toBe(false);
      subscription.dispose();
    } finally {
      await Promise.all([bothWriter.close(), bothReader.close()]);
      await proxy.close();
    }
  });

  it("wakes the reader again once the writer's Redis publisher connection was killed and came back", async () => {
    const room = await createConversation(writer, tenant.admin.token, 'publisher killed');
    const subscription = await quietSubscription(room);
    const name = redisOf(writer).connectionNames.publisher;
    const killed = await killRedisConnectionsNamed(name);
    expect(killed).toHaveLength(1);
    // node-redis reconnects at once and names the new connection again (CLIENT SETNAME in its handshake).
    await eventually(async () => {
      const ids = await redisConnectionIds(name);
      return ids.length === 1 && ids[0] !== killed[0];
    }, 'a new publisher connection of the writer');
    await eventually(() => redisOf(writer).connected, 'the publisher to be ready');
    const id = await postMessage(writer, tenant.admin.token, room, 'after the publisher came back');
    const events = await subscription.waitFor(2);
    expect(events[1].messagePosted.message.id).toBe(id);
    subscription.dispose();
  });
});

if (!available) {
  describe('realtime wake-ups over Redis', () => {
    it.skip(`needs a Redis at ${REDIS_TEST_URL} (none answered PING; set TEST_REDIS_URL to use another)`, () => {});
  });
}

/** The refusal of a server that must not start. */
async function refusal(start: Promise<TestServer>): Promise<Error> {
  return start.then(
    async (server) => {
      await server.close();
      throw new Error('the server started without its wake-up transport');
    },
    (error: unknown) => error as Error,
  );
}

describe('wake-up transports unreachable at start-up', () => {
  it('refuses to start without its Redis, naming the setting, the address (without its password), the cause and what to do', async () => {
    const error = await refusal(startTestServer({ realtime: { redisUrl: 'redis://wake:s3cret@127.0.0.1:1', redisChannel: channel } }));
    expect(error).toBeInstanceOf(WakeTransportUnavailable);
    expect(error.message).toMatch(/^REALTIME_REDIS_URL: could not connect to Redis at redis:\/\/wake:\*\*\*@127\.0\.0\.1:1 \(.*ECONNREFUSED/);
    expect(error.message).toMatch(/Start Redis there, correct the URL, or unset REALTIME_REDIS_URL/);
    expect(error.message).not.toContain('s3cret');
  });

  it('refuses to start without its LISTEN connection the same way', async () => {
    const error = await refusal(startTestServer({ realtime: { listenUrl: 'postgres://listener:s3cret@127.0.0.1:1/tenantgraph' } }));
    expect(error).toBeInstanceOf(WakeTransportUnavailable);
    expect(error.message).toMatch(
      /^REALTIME_LISTEN_DATABASE_URL: the realtime LISTEN connection could not connect to postgres:\/\/listener:\*\*\*@127\.0\.0\.1:1\/tenantgraph \(.*ECONNREFUSED/,
    );
    expect(error.message).not.toContain('s3cret');
  });
});
