import http from 'node:http';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { MessagePostedDocument, PostMessageDocument } from '../../src/__generated__/sdk/graphql.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { connectClient } from '../../src/db/guarded-client.js';
import { createAppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import { insertMessage } from '../../src/modules/messages/queries.js';
import { WAKE_CHANNEL } from '../../src/realtime/wake-transport.js';
import { beginTenantTransaction, commitOrRollBack } from '../../src/tenancy/tenant-transaction.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { percentile } from './load.js';

/**
 * The realtime benchmark's load (issue 12 §4): rooms (one conversation each) with subscribers on real graphql-ws
 * sockets, writers posting messages over HTTP at a fixed rate, and the bookkeeping that tells, per delivery,
 * how late it was and whether it was the subscriber's to receive.
 */

/** One conversation and who follows it: every subscriber a socket of its own, as a browser tab is. */
export interface Room {
  readonly index: number;
  readonly tenantId: string;
  readonly conversationId: string;
  /** Subscribers' `Bearer` tokens (the tenant's users in turn: several tabs of one user share a token). */
  readonly subscriberTokens: readonly string[];
  /** The writer's token (one of the tenant's members). */
  readonly writerAuthorization: string;
  /** For writers that commit straight to the database: the conversation's and the writer's local ids. */
  readonly conversationLocalId: string;
  readonly writerUserId: string;
}

const SUBSCRIPTION = print(MessagePostedDocument);
const POST_MESSAGE = print(PostMessageDocument);

/**
 * Rooms over the first `tenants` tenants of the bench database (owner connection): `roomsPerTenant` conversations
 * each with `subscribersPerRoom` subscribers. `skipTenants` leaves the first ones out (the large room's tenant).
 */
export async function planRooms(
  ownerUrl: string,
  jwtSecret: string,
  shape: { tenants: number; roomsPerTenant: number; subscribersPerRoom: number; skipTenants?: number },
): Promise<Room[]> {
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-seed' });
  let rows: { tenant_id: string; user_ids: string[]; conversation_ids: string[] }[];
  try {
    ({ rows } = await client.query(
      `select t.id::text as tenant_id,
              array(select u.id::text from users u where u.tenant_id = t.id order by u.id limit 8) as user_ids,
              array(select c.id::text from conversations c where c.tenant_id = t.id and not c.archived order by c.id limit $3) as conversation_ids
         from tenants t order by t.id offset $1 limit $2`,
      [shape.skipTenants ?? 0, shape.tenants, shape.roomsPerTenant],
    ));
  } finally {
    await client.end();
  }
  if (rows.length < shape.tenants) throw new Error(`the bench database has ${rows.length} tenants, the realtime run needs ${shape.tenants}`);
  const rooms: Room[] = [];
  for (const row of rows) {
    if (row.conversation_ids.length < shape.roomsPerTenant || row.user_ids.length === 0) {
      throw new Error(`tenant ${row.tenant_id} has ${row.conversation_ids.length} open conversations and ${row.user_ids.length} users`);
    }
    const tokens = await Promise.all(row.user_ids.map((userId) => issueToken({ secret: jwtSecret, tenantId: row.tenant_id, userId, ttl: '12h' })));
    for (const conversation of row.conversation_ids) {
      rooms.push({
        index: rooms.length,
        tenantId: row.tenant_id,
        conversationId: encodeGlobalId('Conversation', conversation),
        subscriberTokens: Array.from({ length: shape.subscribersPerRoom }, (_, i) => tokens[i % tokens.length]!),
        writerAuthorization: `Bearer ${tokens[0]}`,
        conversationLocalId: conversation,
        writerUserId: row.user_ids[0]!,
      });
    }
  }
  return rooms;
}

/** What every subscriber of a run received. */
interface Listener {
  readonly room: Room;
  readonly client: Client;
  /** Sequence numbers of this run's messages received, to tell duplicates and misses. */
  readonly received: Set<number>;
  duplicates: number;
  /** False once its subscription failed for good (it is then not waited for). */
  subscribed: boolean;
}

export interface Audience {
  readonly listeners: readonly Listener[];
  /** Deliveries of messages of another room, another run, or without the expected shape: must stay 0. */
  foreign: number;
  /** Subscription errors and sockets closed by the server during the run. */
  errors: string[];
  /** Commit-to-client latency of each delivery (ms), while `recording`. */
  latenciesMs: number[];
  recording: boolean;
  close(): Promise<void>;
}

/** Subscribers connecting at once, all from this machine's one address (the server's pending-socket bound must allow them). */
export const CONNECTING_AT_ONCE = 64;

/**
 * Connects every subscriber of `rooms` to `port` (at most `parallel` connecting at once) and waits until each
 * subscription is set up on the server (graphql-ws has no "subscribed" message: the run's first message of each
 * room is sent only after the server's subscription gauge shows them all; see waitForSubscriptions).
 *
 * Latency is measured from the message's `createdAt` (PostgreSQL's now(): the start of the writer's transaction,
 * a few statements before its commit, so the figure is an upper bound of commit-to-client) to its arrival here;
 * both clocks are this machine's.
 */
export async function connectAudience(port: number, rooms: readonly Room[], runTag: string, parallel = CONNECTING_AT_ONCE): Promise<Audience> {
  const audience: Audience = {
    listeners: [],
    foreign: 0,
    errors: [],
    latenciesMs: [],
    recording: false,
    close: async () => {
      await Promise.all(audience.listeners.map((listener) => listener.client.dispose()));
    },
  };
  const listeners = audience.listeners as Listener[];
  const pending = rooms.flatMap((room) => room.subscriberTokens.map((token) => ({ room, token })));
  const connectOne = async (subscriber: { room: Room; token: string }) => {
    // A server still busy with the previous phase may refuse a socket (4503, its tenant's connections taken):
    // a few retries, as a client with backoff would.
    for (let attempt = 1; ; attempt++) {
      try {
        return await connectOnce(subscriber);
      } catch (error) {
        if (attempt === 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  };
  const connectOnce = async ({ room, token }: { room: Room; token: string }) => {
    let acknowledged!: () => void;
    let isConnected = false;
    let refused!: (error: Error) => void;
    const connected = new Promise<void>((resolve, reject) => ((acknowledged = resolve), (refused = reject)));
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${token}` },
      onNonLazyError: (error) => refused(new Error(`socket refused: ${describe(error)}`)),
      on: {
        connected: () => {
          isConnected = true;
          acknowledged();
        },
        closed: (event) => {
          const { code, reason } = event as { code: number; reason: unknown };
          if (isConnected && code !== 1000) audience.errors.push(`socket closed ${code} ${String(reason)}`);
        },
      },
    });
    await connected.catch(async (error: unknown) => {
      await client.dispose();
      throw error;
    });
    const listener: Listener = { room, client, received: new Set(), duplicates: 0, subscribed: true };
    listeners.push(listener);
    subscribe(listener, 1);
  };
  const subscribe = (listener: Listener, attempt: number) => {
    const { room, client } = listener;
    let received = false;
    client.subscribe<{ messagePosted: { message: { body: string; createdAt: string; conversation: { id: string } } } }>(
      { query: SUBSCRIPTION, variables: { conversationId: room.conversationId } },
      {
        next: ({ data, errors }) => {
          received = true;
          const arrived = Date.now();
          const message = data?.messagePosted.message;
          const seq = message ? sequenceOf(message.body, runTag, room.index) : undefined;
          if (errors?.length) {
            audience.errors.push(`subscription result with errors: ${describe(errors)}`);
            return;
          }
          // SECURITY check of the benchmark: a subscription starts at its tenant's head, so anything but a message
          // of this room written in this run is a delivery the subscriber was not entitled to.
          if (!message || seq === undefined || message.conversation.id !== room.conversationId) {
            audience.foreign++;
            return;
          }
          if (listener.received.has(seq)) listener.duplicates++;
          listener.received.add(seq);
          if (audience.recording) audience.latenciesMs.push(arrived - Date.parse(message.createdAt));
        },
        error: (error) => {
          // A start the busy server refused (its tenant's connections taken by the previous phase): retried, as
          // a client with backoff would; a subscription that fails after it received events is an error.
          if (!received && attempt < 5) {
            setTimeout(() => subscribe(listener, attempt + 1), 500 * attempt);
            return;
          }
          listener.subscribed = false;
          audience.errors.push(`subscription error: ${describe(error)}`);
        },
        complete: () => {},
      },
    );
  };
  for (let i = 0; i < pending.length; i += parallel) await Promise.all(pending.slice(i, i + parallel).map(connectOne));
  return audience;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error.map((e: { message?: string }) => e.message ?? String(e)).join('; ');
  const event = error as { code?: number; reason?: unknown };
  return event && typeof event.code === 'number' ? `close ${event.code} ${String(event.reason)}` : JSON.stringify(error);
}

/** Message bodies are `<runTag>:<room>:<seq>`; the sequence number when the body is this room's of this run. */
function sequenceOf(body: string, runTag: string, room: number): number | undefined {
  const [tag, roomText, seqText] = body.split(':');
  if (tag !== runTag || Number(roomText) !== room) return undefined;
  const seq = Number(seqText);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** Messages committed by the writers (their response arrived with the message), per room. */
export interface Writes {
  committed: Map<number, number[]>;
  sent: number;
  failed: number;
  /** Sends the writers could not start on time because `maxInFlight` requests were still open. */
  behind: number;
  failures: string[];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Commits one message to `room`; resolves null when it committed, else why not. */
export type Post = (room: Room, body: string) => Promise<string | null>;

/** Posts through an API server's HTTP `postMessage` (that server wakes its own subscribers in process). */
export function apiWriter(port: number): Post {
  return (room, body) => post(port, room, body);
}

/**
 * Commits straight to the database as the app role, as another API replica would: a tenant transaction of the
 * room's tenant entered as the writer (the product's prologue, RLS, triggers recording the event), the product's
 * insert, COMMIT, then the product's wake-up on PostgreSQL (`pg_notify` outside the transaction, tenant id only),
 * which the measured server receives on its LISTEN connection. So the measured server does nothing but fan out.
 */
export function databaseWriter(appUrl: string, connections: number): { post: Post; close: () => Promise<void> } {
  const pool = createPool({ connectionString: appUrl, max: connections, applicationName: 'tenantgraph-bench-writer' });
  const database = createAppDatabase(pool);
  return {
    post: async (room, body) => {
      try {
        const tx = await beginTenantTransaction(
          database,
          { tenantId: room.tenantId, userId: room.writerUserId },
          { readOnly: false, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 },
        );
        const row = await commitOrRollBack(tx, (t) =>
          insertMessage(t, { conversationId: room.conversationLocalId, authorId: room.writerUserId, body }),
        );
        if (!row) return 'the conversation was not found';
        await pool.query('select pg_notify($1, $2)', [WAKE_CHANNEL, room.tenantId]);
        return null;
      } catch (error) {
        return (error as Error).message;
      }
    },
    close: () => database.db.destroy(),
  };
}

/** Posts one message; resolves null when the API answered with the message (it committed), else why not. */
function post(port: number, room: Room, body: string): Promise<string | null> {
  const payload = JSON.stringify({ query: POST_MESSAGE, variables: { input: { conversationId: room.conversationId, body } } });
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: room.writerAuthorization, 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve(
            response.statusCode === 200 && text.includes('"postMessage"') && !text.includes('"errors"')
              ? null
              : `${response.statusCode} ${text.slice(0, 200)}`,
          );
        });
      },
    );
    request.on('error', (error) => resolve(error.message));
    request.end(payload);
  });
}

/**
 * Writers posting `messagesPerSec` messages a second for `seconds` (open loop: on schedule, whatever the answers
 * take, at most `maxInFlight` at once), to the rooms in turn. Resolves when every answer arrived.
 */
export async function writeAtRate(
  write: Post,
  rooms: readonly Room[],
  runTag: string,
  options: { messagesPerSec: number; seconds: number; firstSeq: number; maxInFlight?: number },
): Promise<Writes> {
  const writes: Writes = { committed: new Map(), sent: 0, failed: 0, behind: 0, failures: [] };
  const maxInFlight = options.maxInFlight ?? 128;
  const total = Math.max(1, Math.round(options.messagesPerSec * options.seconds));
  const started = performance.now();
  const open = new Set<Promise<void>>();
  let seq = options.firstSeq;
  while (writes.sent + writes.behind < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.messagesPerSec) + 1);
    while (writes.sent + writes.behind < due) {
      if (open.size >= maxInFlight) {
        writes.behind++;
        continue;
      }
      const room = rooms[(writes.sent + writes.behind) % rooms.length]!;
      const mySeq = seq++;
      writes.sent++;
      const request = write(room, `${runTag}:${room.index}:${mySeq}`).then((failure) => {
        if (failure === null) {
          const list = writes.committed.get(room.index) ?? [];
          list.push(mySeq);
          writes.committed.set(room.index, list);
        } else {
          writes.failed++;
          if (writes.failures.length < 5) writes.failures.push(failure);
        }
      });
      open.add(request);
      void request.finally(() => open.delete(request));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(open);
  return writes;
}

/** Posts one message to `room` and waits until every one of its listeners has it (or `timeoutMs`). */
export async function postAndAwait(write: Post, room: Room, audience: Audience, runTag: string, seq: number, timeoutMs: number): Promise<boolean> {
  const failure = await write(room, `${runTag}:${room.index}:${seq}`);
  if (failure !== null) throw new Error(`posting to the large room failed: ${failure}`);
  const listeners = audience.listeners.filter((listener) => listener.room.index === room.index);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (listeners.every((listener) => listener.received.has(seq))) return true;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return false;
}

/**
 * Waits until every listener has every committed message of its room, or `timeoutMs`; returns the deliveries
 * still missing then (a subscriber that should have received a message and did not).
 */
export async function awaitDeliveries(audience: Audience, writes: Writes, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let missing = countMissing(audience, writes);
  while (missing > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    missing = countMissing(audience, writes);
  }
  return missing;
}

function countMissing(audience: Audience, writes: Writes): number {
  let missing = 0;
  for (const listener of audience.listeners) {
    for (const seq of writes.committed.get(listener.room.index) ?? []) if (!listener.received.has(seq)) missing++;
  }
  return missing;
}

/** Deliveries the committed messages entitle the listeners to. */
export function entitledDeliveries(audience: Audience, writes: Writes): number {
  return audience.listeners.reduce((sum, listener) => sum + (writes.committed.get(listener.room.index)?.length ?? 0), 0);
}

export function latencySummary(latenciesMs: number[]): { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) ?? Number.NaN };
}

/** The server's realtime counters from /metrics (no tenant labels there). */
export interface RealtimeCounters {
  batches: number;
  batchStatements: number;
  subscriptions: number;
  delivered: number;
  slowConsumersDropped: number;
}

export async function realtimeCounters(port: number): Promise<RealtimeCounters> {
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      })
      .on('error', reject);
  });
  const sum = (prefix: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(prefix) && (line[prefix.length] === ' ' || line[prefix.length] === '{'))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return {
    batches: sum('tenantgraph_realtime_batches_total'),
    batchStatements: sum('tenantgraph_realtime_batch_statements_sum'),
    subscriptions: sum('tenantgraph_realtime_subscriptions'),
    delivered: sum('tenantgraph_realtime_events_delivered_total'),
    slowConsumersDropped: sum('tenantgraph_realtime_slow_consumers_dropped_total'),
  };
}

/**
 * Waits until the server counts as many active subscriptions as `audience` has live ones (they are set up
 * asynchronously after subscribe; one refused for good is not waited for), or none when `audience` is null.
 */
export async function waitForSubscriptions(port: number, audience: Audience | null, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  let expected = 0;
  while (Date.now() < deadline) {
    expected = audience ? audience.listeners.filter((listener) => listener.subscribed).length : 0;
    seen = (await realtimeCounters(port)).subscriptions;
    if (audience ? seen >= expected : seen === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the server shows ${seen} active subscriptions after ${timeoutMs} ms, expected ${expected}`);
}
