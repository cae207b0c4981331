import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { scrapeMetrics } from '../support/prometheus.js';
import { bearer, eventually, openSocket, socketUrl, type TestSocket } from '../support/realtime-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * The bound on WebSockets that have not completed connection_init (REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS,
 * REALTIME_MAX_PENDING_SOCKETS), with real sockets from real loopback addresses: Linux routes all of 127/8 to
 * `lo`, so a client bound to 127.0.0.2 reaches the server on 127.0.0.1 as another remote address.
 */
const PER_ADDRESS = 2;
const TOTAL = 4;
let server: TestServer;
let tenant: TestTenant;
const opened: WebSocket[] = [];
const clients: TestSocket[] = [];

/** What one upgrade attempt got: an open socket, or the HTTP refusal. */
type Attempt = { kind: 'open'; socket: WebSocket } | { kind: 'refused'; status: number; retryAfter: string | undefined; body: any };

/** Opens a raw graphql-ws socket from `from` and sends nothing on it (a client that never authenticates). */
function attempt(from: string): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(socketUrl(server), 'graphql-transport-ws', { localAddress: from });
    socket.once('open', () => {
      opened.push(socket);
      resolve({ kind: 'open', socket });
    });
    socket.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        socket.terminate();
        resolve({ kind: 'refused', status: res.statusCode!, retryAfter: res.headers['retry-after'], body: JSON.parse(text) });
      });
    });
    socket.once('error', (error) => {
      if (socket.readyState !== WebSocket.CLOSED) reject(error);
    });
  });
}

async function openFrom(from: string): Promise<WebSocket> {
  const result = await attempt(from);
  if (result.kind !== 'open') throw new Error(`expected the socket from ${from} to open, it was refused with ${result.status}`);
  return result.socket;
}

async function refusedFrom(from: string): Promise<Extract<Attempt, { kind: 'refused' }>> {
  const result = await attempt(from);
  if (result.kind !== 'refused') throw new Error(`expected the socket from ${from} to be refused, it opened`);
  return result;
}

/** The server notices a close a moment after the client: an attempt succeeds once it did. */
async function eventuallyOpenFrom(from: string): Promise<WebSocket> {
  let socket: WebSocket | undefined;
  await eventually(async () => {
    const result = await attempt(from);
    if (result.kind === 'open') socket = result.socket;
    return socket !== undefined;
  }, `a socket from ${from} to be accepted again`);
  return socket!;
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.once('close', () => resolve());
          socket.close();
        }),
    ),
  );
}

async function pendingGauge(): Promise<number | undefined> {
  return (await scrapeMetrics(server.port)).value('tenantgraph_realtime_pending_sockets');
}

/** Each test starts with no pending socket on the server. */
async function settled(): Promise<void> {
  await closeAll(opened.splice(0));
  await eventually(async () => (await pendingGauge()) === 0, 'every pending slot to be released');
}

beforeAll(async () => {
  server = await startTestServer({ realtime: { maxPendingSocketsPerAddress: PER_ADDRESS, maxPendingSockets: TOTAL } });
  tenant = await createTestTenant();
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await closeAll(opened);
  await server?.close();
});

describe('pending WebSockets (before connection_init)', () => {
  it('refuses the upgrade past the per-address bound with 429, Retry-After and TOO_MANY_PENDING_SOCKETS, and counts it', async () => {
    await settled();
    const refusedBefore = (await scrapeMetrics(server.port)).value('tenantgraph_realtime_sockets_refused_total', { bound: 'per_address' })!;
    for (let i = 0; i < PER_ADDRESS; i++) await openFrom('127.0.0.1');
    expect(await pendingGauge()).toBe(PER_ADDRESS);
    const refused = await refusedFrom('127.0.0.1');
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('3');
    expect(refused.body.errors[0].extensions).toEqual({ code: 'TOO_MANY_PENDING_SOCKETS', limit: 'maxPendingSocketsPerAddress' });
    expect(refused.body.errors[0].message).toMatch(/your address has 2 sockets without a completed connection_init/);
    expect(refused.body.errors[0].message).toMatch(/REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS/);
    const scrape = await scrapeMetrics(server.port);
    expect(scrape.value('tenantgraph_realtime_sockets_refused_total', { bound: 'per_address' })).toBe(refusedBefore + 1);
    // No tenant label: nothing about the refused socket is known but its address, and that is not a label either.
    expect(scrape.samples.filter((s) => s.name === 'tenantgraph_realtime_sockets_refused_total').map((s) => Object.keys(s.labels))).toEqual([
      ['bound'],
      ['bound'],
    ]);
  });

  it('accepts sockets of another address while one address is at its bound', async () => {
    await settled();
    for (let i = 0; i < PER_ADDRESS; i++) await openFrom('127.0.0.1');
    await refusedFrom('127.0.0.1');
    const other = await openFrom('127.0.0.2');
    expect(other.readyState).toBe(WebSocket.OPEN);
  });

  it('refuses past the per-server bound, whatever the address, with its own limit named', async () => {
    await settled();
    await Promise.all(['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.2'].map(openFrom));
    const refused = await refusedFrom('127.0.0.3');
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].extensions).toEqual({ code: 'TOO_MANY_PENDING_SOCKETS', limit: 'maxPendingSockets' });
    expect(refused.body.errors[0].message).toMatch(/this server has 4 sockets .*REALTIME_MAX_PENDING_SOCKETS\)/);
    expect((await scrapeMetrics(server.port)).value('tenantgraph_realtime_sockets_refused_total', { bound: 'total' })).toBeGreaterThanOrEqual(1);
  });

  it('frees the slot of a socket that closes before connection_init', async () => {
    await settled();
    const [first] = [await openFrom('127.0.0.1'), await openFrom('127.0.0.1')];
    await refusedFrom('127.0.0.1');
    await closeAll([first!]);
    await eventuallyOpenFrom('127.0.0.1');
    expect(await pendingGauge()).toBe(PER_ADDRESS);
  });

  it('frees the slot at the ack, and does not count authenticated sockets against the address', async () => {
    await settled();
    // More authenticated sockets from one address than its pending bound: each held a slot only until its ack.
    for (let i = 0; i < PER_ADDRESS + 2; i++) {
      const client = openSocket(server, bearer(tenant.admin.token));
      clients.push(client);
      await client.connected;
    }
    const scrape = await scrapeMetrics(server.port);
    expect(scrape.value('tenantgraph_realtime_sockets')).toBe(PER_ADDRESS + 2);
    expect(scrape.value('tenantgraph_realtime_pending_sockets')).toBe(0);
    for (let i = 0; i < PER_ADDRESS; i++) await openFrom('127.0.0.1');
    await refusedFrom('127.0.0.1');
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });

  it('frees the slot of a socket whose connection_init is refused (4401)', async () => {
    await settled();
    const [first] = [await openFrom('127.0.0.1'), await openFrom('127.0.0.1')];
    const closed = new Promise<number>((resolve) => first!.once('close', (code) => resolve(code)));
    first!.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    expect(await closed).toBe(4401);
    await eventuallyOpenFrom('127.0.0.1');
  });

  it('frees the slot of a socket that never sends connection_init once graphql-ws times it out (4408)', async () => {
    await settled();
    const [first] = [await openFrom('127.0.0.1'), await openFrom('127.0.0.1')];
    await refusedFrom('127.0.0.1');
    const code = await new Promise<number>((resolve) => first!.once('close', (closeCode) => resolve(closeCode)));
    expect(code).toBe(4408);
    // Its sibling opened at the same moment times out too; both slots come back.
    await eventually(async () => (await pendingGauge()) === 0, 'both timed-out slots to be released');
    await openFrom('127.0.0.1');
  });

  it('cuts the connection of a refused upgrade whose client never closes its side', async () => {
    await settled();
    for (let i = 0; i < PER_ADDRESS; i++) await openFrom('127.0.0.1');
    const { port } = new URL(server.url);
    // A raw client that keeps its side open after the server's answer and goes on sending.
    const raw = net.connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
    try {
      let answer = '';
      raw.setEncoding('utf8');
      raw.on('data', (chunk: string) => (answer += chunk));
      let cut = false;
      raw.on('error', () => (cut = true));
      raw.on('close', () => (cut = true));
      raw.write(
        `GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n',
      );
      await eventually(() => answer.includes('TOO_MANY_PENDING_SOCKETS'), 'the 429 answer');
      expect(answer).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
      // Once the server destroyed its side, a write fails (EPIPE/ECONNRESET) and the socket closes.
      await eventually(() => {
        if (!cut && raw.writable) raw.write('x');
        return cut;
      }, 'the server to cut the refused connection');
    } finally {
      raw.destroy();
    }
  });
});
