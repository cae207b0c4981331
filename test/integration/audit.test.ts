import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuditEventsDocument } from '../../src/__generated__/sdk/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor } from '../support/tenants.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

async function asOwner<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('ownerUrl') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function post(token: string, query: string, requestId: string, variables?: Record<string, unknown>) {
  return server.post({ query, variables }, { authorization: `Bearer ${token}`, 'x-request-id': requestId });
}

describe('audit trail', () => {
  it('leaves exactly one event per request that opened a tenant transaction, visible only to its tenant', async () => {
    const a = await createTestTenant();
    const b = await createTestTenant();
    const requestIds: string[] = [];
    const next = () => {
      const id = `audit-${randomUUID()}`;
      requestIds.push(id);
      return id;
    };
    const created = await post(a.admin.token, 'mutation Make { createConversation(input: { title: "t" }) { conversation { id } } }', next());
    const conversationId = created.json.data.createConversation.conversation.id;
    await post(a.admin.token, 'query List { conversations { totalCount } }', next());
    await post(a.admin.token, 'mutation Post($id: ID!) { postMessage(input: { conversationId: $id, body: "hi" }) { message { id } } }', next(), { id: conversationId });
    // A mutation that fails after writing: rolled back, and still audited.
    await post(a.admin.token, 'mutation Bad { createConversation(input: { title: "x" }) { conversation { id } } renameConversation(input: { id: "Q29udmVyc2F0aW9uOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA", title: "y" }) { conversation { id } } }', next());
    // Requests that open no transaction leave no event.
    const introspection = await post(a.admin.token, '{ __typename }', `audit-none-${randomUUID()}`);
    expect(introspection.status).toBe(200);
    await server.audit.flush();

    const rows = await asOwner((client) =>
      client.query('select tenant_id::text, request_id, operation_type, operation_name, outcome from audit_events where request_id = any($1) order by created_at', [
        requestIds,
      ]),
    );
    expect(rows.rows.map((r) => [r.tenant_id, r.request_id, r.operation_type, r.operation_name, r.outcome])).toEqual([
      [a.id, requestIds[0], 'mutation', 'Make', 'committed'],
      [a.id, requestIds[1], 'query', 'List', 'committed'],
      [a.id, requestIds[2], 'mutation', 'Post', 'committed'],
      [a.id, requestIds[3], 'mutation', 'Bad', 'rolled_back'],
    ]);

    const seenByA = await server.client(a.admin.token).request(AuditEventsDocument, { first: 100 });
    const seenByB = await server.client(b.admin.token).request(AuditEventsDocument, { first: 100 });
    expect(seenByA.data?.auditEvents.nodes.map((e) => e.requestId)).toEqual(expect.arrayContaining(requestIds));
    const bIds = seenByB.data?.auditEvents.nodes.map((e) => e.requestId) ?? [];
    for (const id of requestIds) expect(bIds).not.toContain(id);
  });

  it('writes a mutation\'s event in the mutation\'s own transaction and a read\'s event off the request path', async () => {
    const tenant = await createTestTenant();
    server.statements.length = 0;
    const mutationId = `audit-${randomUUID()}`;
    await post(tenant.admin.token, 'mutation { createConversation(input: { title: "t" }) { conversation { id } } }', mutationId);
    const mutationStatements = [...server.statements];
    const committedEvent = await asOwner((client) => client.query('select 1 from audit_events where request_id = $1', [mutationId]));
    expect(committedEvent.rowCount).toBe(1);
    expect(mutationStatements.findIndex((s) => s.includes('insert into "audit_events"'))).toBe(mutationStatements.indexOf('commit') - 1);

    server.statements.length = 0;
    await post(tenant.admin.token, '{ conversations { totalCount } }', `audit-${randomUUID()}`);
    expect(server.statements.some((s) => s.includes('audit_events'))).toBe(false);
  });

  it('records a refused context switch (a token whose user is not a member) as REJECTED', async () => {
    const tenant = await createTestTenant();
    const stranger = await tokenFor(tenant.id, randomUUID());
    const requestId = `audit-${randomUUID()}`;
    const refused = await post(stranger, '{ conversations { totalCount } }', requestId);
    expect(refused.status).toBe(401);
    await server.audit.flush();
    const events = await server.client(tenant.admin.token).request(AuditEventsDocument, { first: 100 });
    const event = events.data?.auditEvents.nodes.find((e) => e.requestId === requestId);
    expect(event).toMatchObject({ outcome: 'REJECTED', user: null, operationType: 'QUERY' });
  });

  it('filters by user, operation type and time, newest first, and is for ADMINs only', async () => {
    const tenant = await createTestTenant();
    const member = await tenant.addUser('MEMBER');
    await post(member.token, 'mutation { createConversation(input: { title: "m" }) { conversation { id } } }', `audit-${randomUUID()}`);
    await post(tenant.admin.token, '{ conversations { totalCount } }', `audit-${randomUUID()}`);
    await server.audit.flush();
    const api = server.client(tenant.admin.token);
    const userGlobalId = Buffer.from(`User:${member.id}`).toString('base64url');
    const byMember = await api.request(AuditEventsDocument, { filter: { userId: userGlobalId } });
    expect(byMember.data?.auditEvents.nodes.map((e) => [e.operationType, e.user?.email])).toEqual([['MUTATION', member.email]]);
    const queries = await api.request(AuditEventsDocument, { filter: { operationType: 'QUERY' } });
    expect(queries.data?.auditEvents.nodes.length).toBeGreaterThan(0);
    expect(queries.data?.auditEvents.nodes.every((e) => e.operationType === 'QUERY')).toBe(true);
    const future = await api.request(AuditEventsDocument, { filter: { since: new Date(Date.now() + 60_000).toISOString() } });
    expect(future.data?.auditEvents.nodes).toEqual([]);
    const times = (await api.request(AuditEventsDocument, {})).data!.auditEvents.nodes.map((e) => e.occurredAt);
    expect([...times].sort().reverse()).toEqual(times);

    const forbidden = await server.client(member.token).request(AuditEventsDocument, {});
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('cannot be rewritten or erased by the app role', async () => {
    const client = new pg.Client({ connectionString: inject('appUrl') });
    await client.connect();
    try {
      for (const statement of ['update audit_events set outcome = \'committed\'', 'delete from audit_events', 'truncate audit_events']) {
        await client.query('begin');
        await client.query("select set_config('app.current_tenant', '1', true)");
        await expect(client.query(statement)).rejects.toMatchObject({ code: '42501' });
        await client.query('rollback');
      }
    } finally {
      await client.end();
    }
  });
});

describe('AuditLog.flush', () => {
  it('writes events of many tenants in one batch, each under its own tenant', async () => {
    const tenants = await Promise.all([createTestTenant(), createTestTenant(), createTestTenant()]);
    const marker = `batch-${randomUUID()}`;
    for (const [i, tenant] of tenants.entries()) {
      await post(tenant.admin.token, '{ conversations { totalCount } }', `${marker}-${i}`);
    }
    expect(server.audit.pending).toBeGreaterThanOrEqual(3);
    await server.audit.flush();
    const rows = await asOwner((client) =>
      client.query('select tenant_id::text as tenant, request_id from audit_events where request_id like $1 order by request_id', [`${marker}-%`]),
    );
    expect(rows.rows).toEqual(tenants.map((tenant, i) => ({ tenant: tenant.id, request_id: `${marker}-${i}` })));
  });

  it('drops a batch that fails as a whole and leaves no connection in a failed transaction', async () => {
    const tenant = await createTestTenant();
    const marker = `failing-${randomUUID()}`;
    await post(tenant.admin.token, '{ conversations { totalCount } }', `${marker}-ok`);
    // An event of a tenant that does not exist violates the foreign key to tenants.
    server.audit.enqueue({
      tenantId: '1', userId: null, requestId: `${marker}-bad`, source: 'api', operationType: 'query',
      operationName: null, outcome: 'committed', startedAt: new Date().toISOString(), durationMs: 1,
    });
    await server.audit.flush();
    const written = await asOwner((client) => client.query('select count(*)::int as n from audit_events where request_id like $1', [`${marker}-%`]));
    expect(written.rows[0].n).toBe(0);
    const pool = server.database.pool;
    expect(pool.idleCount).toBe(pool.totalCount);
    const after = await post(tenant.admin.token, '{ conversations { totalCount } }', `${marker}-after`);
    expect(after.status).toBe(200);
  });
});

describe('audit trail crash bound', () => {
  it('never holds more than maxBuffered read events unwritten', async () => {
    const bounded = await startTestServer({ audit: { flushIntervalMs: 3_600_000, maxBuffered: 5 } });
    try {
      const tenant = await createTestTenant();
      const marker = `bound-${randomUUID()}`;
      for (let i = 0; i < 12; i++) {
        await bounded.post({ query: '{ conversations { totalCount } }' }, { authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': `${marker}-${i}` });
        expect(bounded.audit.pending).toBeLessThan(5);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const written = await asOwner((client) => client.query('select count(*)::int as n from audit_events where request_id like $1', [`${marker}-%`]));
      // 12 events: two full batches of 5 are written, 2 wait for the timer; a crash now would lose those 2.
      expect(written.rows[0].n).toBe(10);
      expect(bounded.audit.pending).toBe(2);
    } finally {
      await bounded.close();
    }
  });
});
