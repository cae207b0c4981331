import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { CreateConversationDocument, ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let busy: TestTenant;
let other: TestTenant;
beforeAll(async () => {
  [server, busy, other] = await Promise.all([
    startTestServer({ http: { maxInFlightPerTenant: 2, maxInFlightPerAddress: 2 }, pool: { max: 6, acquireTimeoutMs: 3000 } }),
    createTestTenant(),
    createTestTenant(),
  ]);
});
afterAll(async () => {
  await server.close();
});

const rename = (token: string, id: string, title: string) =>
  server.post(
    {
      query: 'mutation($input: RenameConversationInput!) { renameConversation(input: $input) { conversation { title } } }',
      variables: { input: { id, title } },
    },
    { authorization: `Bearer ${token}` },
  );

/** Backends waiting, directly or behind another waiter, for a lock the given backend holds. */
const blockedBy = (pid: number) =>
  withOwnerClient(async (client) => {
    const { rows } = await client.query<{ n: number }>(
      `with direct as (select pid from pg_stat_activity where $1::int = any(pg_blocking_pids(pid)))
       select count(*)::int as n from pg_stat_activity
        where pid in (select pid from direct) or pg_blocking_pids(pid) && array(select pid from direct)`,
      [pid],
    );
    return rows[0]!.n;
  });

describe('requests in flight per tenant', () => {
  it('answers 429 TOO_MANY_CONCURRENT_REQUESTS with Retry-After past the bound, serves other tenants, and recovers', async () => {
    const created = await server.client(busy.admin.token).request(CreateConversationDocument, { input: { title: 'locked' } });
    const id = created.data!.createConversation.conversation.id;
    // An owner transaction holds the row lock, so the tenant's two renames wait on it, in flight.
    const owner = new pg.Client({ connectionString: inject('ownerUrl') });
    await owner.connect();
    let held: Promise<{ status: number; json: any }>[] = [];
    try {
      const { rows } = await owner.query<{ pid: number }>('select pg_backend_pid() as pid');
      await owner.query('begin');
      await owner.query('select 1 from conversations where id = $1 for update', [decodeGlobalId(id, 'Conversation').localId]);
      held = [rename(busy.admin.token, id, 'one'), rename(busy.admin.token, id, 'two')];
      await vi.waitFor(async () => expect(await blockedBy(rows[0]!.pid)).toBe(2), { timeout: 10_000, interval: 20 });

      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${busy.admin.token}` },
        body: JSON.stringify({ query: '{ viewer { user { id } } }' }),
      });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('1');
      const json = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(json.errors[0]!.extensions.code).toBe('TOO_MANY_CONCURRENT_REQUESTS');
      expect(json.errors[0]!.message).toMatch(/already has 2 in flight/);

      const others = await server.client(other.admin.token).request(ViewerDocument);
      expect(others.errors).toBeUndefined();
    } finally {
      await owner.query('commit');
      await owner.end();
    }
    const finished = await Promise.all(held);
    expect(finished.map((r) => r.status)).toEqual([200, 200]);
    const again = await server.client(busy.admin.token).request(ViewerDocument);
    expect(again.errors).toBeUndefined();
  });
});

/** Opens a request without a token whose body the server waits for; resolves once the server admitted it. */
function openTokenlessRequest(body: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    socket.once('error', reject);
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        'expect: 100-continue\r\n\r\n',
    );
    // Node answers 100 Continue right before it calls the request listener, which admits the request.
    socket.once('data', (chunk) => (chunk.toString().startsWith('HTTP/1.1 100') ? resolve(socket) : reject(new Error(chunk.toString()))));
  });
}

describe('requests in flight without a token, per address', () => {
  it('answers 429 past the bound while tokenless bodies are pending, and serves requests with a token', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const sockets = [await openTokenlessRequest(body), await openTokenlessRequest(body)];
    try {
      const refused = await server.post({ query: '{ __typename }' });
      expect(refused.status).toBe(429);
      expect(refused.json.errors[0].extensions.code).toBe('TOO_MANY_CONCURRENT_REQUESTS');
      expect(refused.json.errors[0].message).toMatch(/without a token from your address already has 2 in flight/);
      const withToken = await server.client(other.admin.token).request(ViewerDocument);
      expect(withToken.errors).toBeUndefined();

      // Completing the pending bodies ends those requests and frees their slots.
      const answers = sockets.map(
        (socket) =>
          new Promise<string>((resolve) => {
            let text = '';
            socket.on('data', (chunk) => {
              text += chunk.toString();
              if (text.includes('"__typename"')) resolve(text);
            });
          }),
      );
      for (const socket of sockets) socket.write(body);
      for (const answer of await Promise.all(answers)) expect(answer).toMatch(/^HTTP\/1.1 200/);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
