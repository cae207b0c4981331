import { randomUUID } from 'node:crypto';
import { getIntrospectionQuery } from 'graphql';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

const lines: Record<string, any>[] = [];
let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  server = await startTestServer({ logger, slowStatementMs: 100 });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const requestLines = (requestId: string) => lines.filter((line) => line.requestId === requestId && line.msg === 'graphql request');

async function createConversation(): Promise<{ id: string; localId: string }> {
  const created = await server.post(
    { query: 'mutation { createConversation(input: { title: "Logged" }) { conversation { id } } }' },
    { authorization: `Bearer ${tenant.admin.token}` },
  );
  const id = created.json.data.createConversation.conversation.id as string;
  return { id, localId: decodeGlobalId(id, 'Conversation').localId };
}

const postMessage = (conversationId: string, body: string) => ({
  query: 'mutation PostMessage($input: PostMessageInput!) { postMessage(input: $input) { message { id } } }',
  variables: { input: { conversationId, body } },
});

describe('the request log', () => {
  it('writes one line per GraphQL request with ids, operation, duration, outcome and status, and never the token or body', async () => {
    const conversation = await createConversation();
    const requestId = `log-${randomUUID()}`;
    const body = `private words ${randomUUID()}`;
    const result = await server.post(postMessage(conversation.id, body), {
      authorization: `Bearer ${tenant.admin.token}`,
      'x-request-id': requestId,
    });
    expect(result.status).toBe(200);

    const logged = requestLines(requestId);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 30,
      requestId,
      tenantId: tenant.id,
      userId: tenant.admin.id,
      operationType: 'mutation',
      operationName: 'PostMessage',
      outcome: 'committed',
      status: 200,
    });
    // A measured time: only its presence and sign are deterministic.
    expect(logged[0]!.durationMs).toBeGreaterThan(0);
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(body);
    expect(everything).not.toContain(tenant.admin.token.split('.')[2]);
  });

  it('says rejected for a refused token, none for a request that opened no transaction, rolled_back for a failed one', async () => {
    const [rejected, none, rolledBack] = [`log-${randomUUID()}`, `log-${randomUUID()}`, `log-${randomUUID()}`];
    await server.post(
      { query: 'query Viewer { viewer { user { id } } }', operationName: 'Viewer' },
      { authorization: 'Bearer not-a-jwt', 'x-request-id': rejected },
    );
    await server.post({ query: getIntrospectionQuery() }, { 'x-request-id': none });
    await server.post(postMessage('Q29udmVyc2F0aW9uOjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMA', 'x'), {
      authorization: `Bearer ${tenant.admin.token}`,
      'x-request-id': rolledBack,
    });

    expect(requestLines(rejected)).toEqual([expect.objectContaining({ outcome: 'rejected', status: 401, operationName: 'Viewer' })]);
    expect(requestLines(rejected)[0]).not.toHaveProperty('tenantId');
    expect(requestLines(none)).toEqual([expect.objectContaining({ outcome: 'none', status: 200, operationType: 'query' })]);
    expect(requestLines(rolledBack)).toEqual([
      expect.objectContaining({ outcome: 'rolled_back', tenantId: tenant.id, operationName: 'PostMessage' }),
    ]);
  });

  it('logs a statement slower than DB_SLOW_STATEMENT_MS with its tenant and request id', async () => {
    const conversation = await createConversation();
    const owner = new pg.Client({ connectionString: inject('ownerUrl') });
    await owner.connect();
    const requestId = `slow-${randomUUID()}`;
    const body = `slow words ${randomUUID()}`;
    try {
      // Holding the conversation row makes postMessage's trigger wait for it.
      await owner.query('begin');
      await owner.query('select 1 from conversations where tenant_id = $1 and id = $2 for update', [tenant.id, conversation.localId]);
      const posting = server.post(postMessage(conversation.id, body), {
        authorization: `Bearer ${tenant.admin.token}`,
        'x-request-id': requestId,
      });
      // Kept as a hold, not a wait for an event: the lock must be held longer than the 100 ms threshold. A version
      // that polled pg_stat_activity until the blocked statement had run 150 ms missed the log line once under load
      // (not understood yet), so the plain hold stays.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await owner.query('commit');
      expect((await posting).status).toBe(200);
    } finally {
      await owner.end();
    }

    const slow = lines.filter((line) => line.msg === 'slow statement' && line.requestId === requestId);
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({ level: 40, requestId, tenantId: tenant.id, userId: tenant.admin.id, thresholdMs: 100, failed: false });
    expect(slow[0]!.durationMs).toBeGreaterThanOrEqual(100);
    expect(slow[0]!.sql).toMatch(/messages/);
    expect(JSON.stringify(slow)).not.toContain(body);
  });
});
