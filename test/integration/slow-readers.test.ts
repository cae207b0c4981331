import { EventEmitter, once } from 'node:events';
import { connect, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { aliasedBodiesQuery, createConversationWithMessages } from '../support/big-messages.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/** The server's warn lines, as parsed objects, emitted as 'line' events. */
const logLines = new EventEmitter();
const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.emit('line', JSON.parse(line)) });

let server: TestServer;
let tenant: TestTenant;
let query: string;
beforeAll(async () => {
  // Limits that let a ~15 MB response through, so that only the write timeout can stop it.
  [server, tenant] = await Promise.all([
    startTestServer({ logger, http: { writeTimeoutMs: 1_000, maxResponseBytes: 64 * 1024 * 1024 }, limits: { maxCost: 1_000_000 } }),
    createTestTenant(),
  ]);
  query = aliasedBodiesQuery(await createConversationWithMessages(tenant, 100, 10_000), 15);
});
afterAll(async () => {
  await server.close();
});

/** Sends the ~15 MB query on a raw socket that reads nothing until `resume()` is called. */
function neverReadingClient(): Socket {
  const socket = connect(server.port, '127.0.0.1');
  socket.pause();
  const body = JSON.stringify({ query });
  socket.write(
    `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nauthorization: Bearer ${tenant.admin.token}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}

describe('slow readers', () => {
  it('drops responses their clients do not read, frees them, and keeps serving others', async () => {
    const clients = 4;
    const dropped: { requestId: string; unsentBytes: number }[] = [];
    const allDropped = new Promise<void>((resolve) => {
      logLines.on('line', (line) => {
        if (line.msg !== 'response dropped: the client did not read it') return;
        dropped.push(line);
        if (dropped.length === clients) resolve();
      });
    });
    const sockets = Array.from({ length: clients }, neverReadingClient);
    await allDropped;
    // Each had megabytes still buffered in the server when it was dropped.
    for (const drop of dropped) expect(drop.unsentBytes).toBeGreaterThan(1_000_000);

    // The server closed each connection: reading now ends (reset or end of stream) well short of the body.
    for (const socket of sockets) {
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.on('error', () => {});
      socket.resume();
      await once(socket, 'close');
      expect(received).toBeLessThan(15_000_000);
    }

    const viewer = await server.client(tenant.admin.token).request(ViewerDocument);
    expect(viewer.errors).toBeUndefined();
  });

  it('lets a client that reads receive the whole response', async () => {
    const response = await server.post(
      { query: aliasedBodiesQuery(query.match(/"([^"]+)"/)![1]!, 3) },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(response.status).toBe(200);
    expect(response.json.data.a2.messages.nodes).toHaveLength(100);
  });
});
