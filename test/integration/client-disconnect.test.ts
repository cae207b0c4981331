import { randomUUID } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateConversationDocument } from '../../src/__generated__/sdk/graphql.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// A client that disconnects at any stage of a mutation never gets it committed (issue 8 §3). Every stage is
// driven over a raw socket (node:net) against the real server, and the database is asked, as the owner, whether a
// row was committed. The stage "while the token is verified" is made slow deterministically: the server verifies
// RS256 tokens against a JWKS served by a local node:http server that answers only after the API server has seen
// the client's socket close.

/** Server-side sockets and responses as node:http creates them, found by the client's port or request id. */
const serverSockets = new Map<number, Socket>();
const serverResponses = new Map<string, ServerResponse>();
const onSocket = ({ socket }: { socket: Socket }) => {
  if (socket.remotePort) serverSockets.set(socket.remotePort, socket);
};
const onRequest = ({ request, response }: { request: IncomingMessage; response: ServerResponse }) => {
  const id = request.headers['x-request-id'];
  if (typeof id === 'string') serverResponses.set(id, response);
};

/** The API's request log line for one request id: written in the handler's `finally`, after its transaction ended. */
const finished = new Map<string, () => void>();
const finishedIds = new Set<string>();
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { msg?: string; requestId?: string };
      if (entry.msg === 'graphql request' && entry.requestId) {
        finishedIds.add(entry.requestId);
        finished.get(entry.requestId)?.();
      }
    }
    done();
  },
});
function requestFinished(requestId: string): Promise<void> {
  if (finishedIds.has(requestId)) return Promise.resolve();
  return new Promise((resolve) => finished.set(requestId, resolve));
}

// The identity provider: holds every JWKS request until `release` is called.
let jwks: Server;
let jwksRequested: Promise<void>;
let releaseJwks: () => void;
let publicJwk: JWK;
let signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

let slowAuth: TestServer;
let plain: TestServer;
let tenant: TestTenant;
let conversationId: string;

beforeAll(async () => {
  diagnostics.subscribe('net.server.socket', onSocket as (message: unknown) => void);
  diagnostics.subscribe('http.server.request.start', onRequest as (message: unknown) => void);
  const pair = await generateKeyPair('RS256', { extractable: true });
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'main', alg: 'RS256', use: 'sig' };
  let requested!: () => void;
  jwksRequested = new Promise((resolve) => (requested = resolve));
  const released = new Promise<void>((resolve) => (releaseJwks = resolve));
  jwks = createServer((_req, res) => {
    requested();
    void released.then(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const logger = pino({ level: 'info' }, logSink);
  slowAuth = await startTestServer({
    jwt: { jwksUrl: `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`, tenantClaim: 'tenant_id' },
    logger,
  });
  plain = await startTestServer({ logger });
  tenant = await createTestTenant();
  const created = await plain.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'disconnects' } });
  conversationId = created.data!.createConversation.conversation.id;
});

afterAll(async () => {
  releaseJwks();
  diagnostics.unsubscribe('net.server.socket', onSocket as (message: unknown) => void);
  diagnostics.unsubscribe('http.server.request.start', onRequest as (message: unknown) => void);
  await slowAuth?.close();
  await plain?.close();
  await new Promise((resolve) => jwks.close(resolve));
});

/** The raw bytes of a postMessage mutation; `body` marks the message so the owner can count it. */
function rawMutation(port: number, token: string, requestId: string, body: string): { head: string; payload: string } {
  const payload = JSON.stringify({
    query: 'mutation($id: ID!, $body: String!) { postMessage(input: { conversationId: $id, body: $body }) { message { id } } }',
    variables: { id: conversationId, body },
  });
  const head =
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
    `authorization: Bearer ${token}\r\nx-request-id: ${requestId}\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n\r\n`;
  return { head, payload };
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  // Wait until the server's side of this connection exists, so its close can be awaited.
  await vi.waitFor(() => expect(serverSockets.has(socket.localPort!)).toBe(true), { timeout: 5000, interval: 2 });
  return socket;
}

/** Destroys the client's socket and resolves once the API server's side of it has closed. */
async function abort(socket: Socket): Promise<void> {
  const serverSide = serverSockets.get(socket.localPort!)!;
  const closed = serverSide.destroyed ? Promise.resolve() : new Promise((resolve) => serverSide.once('close', resolve));
  socket.destroy();
  await closed;
  // Let node:http's own 'close' listeners (the response's, the HTTP handler's) run before anything else happens.
  await new Promise((resolve) => setImmediate(resolve));
}

async function committedMessages(body: string): Promise<number> {
  return withOwnerClient(async (client) => {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from messages where tenant_id = $1 and body = $2', [
      tenant.id,
      body,
    ]);
    return rows[0]!.n;
  });
}

function rs256(): Promise<string> {
  return new SignJWT({ tenant_id: tenant.id })
    .setProtectedHeader({ alg: 'RS256', kid: 'main' })
    .setSubject(tenant.admin.id)
    .setExpirationTime('5m')
    .sign(signingKey);
}

describe('a client that disconnects', () => {
  it('mid-headers: commits nothing', async () => {
    const body = `mid-headers ${randomUUID()}`;
    const { head } = rawMutation(plain.port, tenant.admin.token, `disconnect-${randomUUID()}`, body);
    const socket = await open(plain.port);
    socket.write(head.slice(0, head.indexOf('authorization') + 20));
    await abort(socket);
    expect(await committedMessages(body)).toBe(0);
  });

  it('mid-body: commits nothing, and the request ends', async () => {
    const body = `mid-body ${randomUUID()}`;
    const requestId = `disconnect-${randomUUID()}`;
    const { head, payload } = rawMutation(plain.port, tenant.admin.token, requestId, body);
    const socket = await open(plain.port);
    socket.write(head + payload.slice(0, payload.length / 2));
    await vi.waitFor(() => expect(serverResponses.has(requestId)).toBe(true), { timeout: 5000, interval: 2 });
    const done = requestFinished(requestId);
    await abort(socket);
    await done;
    expect(await committedMessages(body)).toBe(0);
  });

  it('after the body, while its token is verified (JWKS fetch in flight): never begins the transaction', async () => {
    const body = `during-verification ${randomUUID()}`;
    const requestId = `disconnect-${randomUUID()}`;
    const { head, payload } = rawMutation(slowAuth.port, await rs256(), requestId, body);
    slowAuth.statements.length = 0;
    const socket = await open(slowAuth.port);
    socket.write(head + payload);
    await jwksRequested;
    const done = requestFinished(requestId);
    await abort(socket);
    releaseJwks();
    await done;
    expect(await committedMessages(body)).toBe(0);
    expect(slowAuth.statements.filter((sql) => sql.startsWith('start transaction'))).toEqual([]);

    // Control: the same mutation on the same server, with the keys now fetched, does commit.
    const kept = `after-verification ${randomUUID()}`;
    const response = await fetch(slowAuth.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await rs256()}` },
      body: rawMutation(slowAuth.port, '', '', kept).payload,
    });
    expect(response.status).toBe(200);
    expect(await committedMessages(kept)).toBe(1);
  });

  it('while its statement runs: rolls it back', async () => {
    const body = `during-statement ${randomUUID()}`;
    const requestId = `disconnect-${randomUUID()}`;
    const { head, payload } = rawMutation(plain.port, tenant.admin.token, requestId, body);
    await withOwnerClient(async (locker) => {
      await locker.query('begin');
      try {
        // The insert's foreign-key check waits for this row lock, so the statement is running when the client goes.
        await locker.query('select from conversations where tenant_id = $1 for update', [tenant.id]);
        const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
        const socket = await open(plain.port);
        socket.write(head + payload);
        await vi.waitFor(
          async () => {
            const waiting = await withOwnerClient((client) =>
              client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [lockerPid]),
            );
            expect(waiting.rows[0]!.n).toBe(1);
          },
          { timeout: 10_000, interval: 10 },
        );
        const done = requestFinished(requestId);
        await abort(socket);
        await locker.query('commit');
        await done;
      } finally {
        await locker.query('rollback').catch(() => {});
      }
    });
    expect(await committedMessages(body)).toBe(0);
    await vi.waitFor(() => expect(plain.database.pool.idleCount).toBe(plain.database.pool.totalCount), { timeout: 5000, interval: 5 });
  });
});
