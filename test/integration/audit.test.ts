import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { AuditEventsDocument } from '../../src/__generated__/sdk/graphql.js';
import { writeAuditBatch } from '../../src/audit/audit-batch-writer.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { scrapeMetrics } from '../support/prometheus.js';
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
    await post(a.admin.token, 'mutation Post($id: ID!) { postMessage(input: { conversationId: $id, body: "hi" }) { message { id } } }', next(), {
      id: conversationId,
    });
    // A mutation that fails after writing: rolled back, and still audited.
    await post(
      a.admin.token,
      'mutation Bad { createConversation(input: { title: "x" }) { conversation { id } } renameConversation(input: { id: "Q29udmVyc2F0aW9uOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA", title: "y" }) { conversation { id } } }',
      next(),
    );
    // Requests that open no transaction leave no event.
    const introspection = await post(a.admin.token, '{ __typename }', `audit-none-${randomUUID()}`);
    expect(introspection.status).toBe(200);
    await server.audit.flush();

    const rows = await asOwner((client) =>
      client.query(
        'select tenant_id::text, request_id, operation_type, operation_name, outcome from audit_events where request_id = any($1) order by created_at',
        [requestIds],
      ),
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

  it("writes a mutation's event in the mutation's own transaction and a read's event off the request path", async () => {
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
    // The admin's one query: the test server flushes only when asked, so the auditEvents reads are not in it yet.
    expect(queries.data?.auditEvents.nodes).toHaveLength(1);
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
      for (const statement of ["update audit_events set outcome = 'committed'", 'delete from audit_events', 'truncate audit_events']) {
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
    const pendingBefore = server.audit.pending;
    for (const [i, tenant] of tenants.entries()) {
      await post(tenant.admin.token, '{ conversations { totalCount } }', `${marker}-${i}`);
    }
    expect(server.audit.pending - pendingBefore).toBe(3);
    await server.audit.flush();
    const rows = await asOwner((client) =>
      client.query('select tenant_id::text as tenant, request_id from audit_events where request_id like $1 order by request_id', [`${marker}-%`]),
    );
    expect(rows.rows).toEqual(tenants.map((tenant, i) => ({ tenant: tenant.id, request_id: `${marker}-${i}` })));
  });

  it('writes every tenant of a poisoned batch: an unknown tenant goes to refused_context_switches, a bad event only costs itself', async () => {
    const tenants = await Promise.all([createTestTenant(), createTestTenant(), createTestTenant()]);
    const marker = `poisoned-${randomUUID()}`;
    for (const [i, tenant] of tenants.entries()) {
      await post(tenant.admin.token, '{ conversations { totalCount } }', `${marker}-${i}`);
    }
    // A validly signed token whose tenant does not exist (deleted, or not provisioned yet): 401, and its
    // REJECTED event has no tenant to belong to. Before issue 8 it violated audit_events_tenant_id_fkey and
    // rolled back everyone's events of the batch.
    const unknownTenant = `9${String(Date.now()).slice(-11)}`;
    const unknownUser = randomUUID();
    const refused = await post(await tokenFor(unknownTenant, unknownUser), '{ conversations { totalCount } }', `${marker}-unknown`);
    expect(refused.status).toBe(401);
    // Bad data of a real tenant: a request id longer than audit_events allows.
    server.audit.enqueue({
      tenantId: tenants[1]!.id,
      userId: null,
      requestId: `${marker}-bad-${'x'.repeat(128)}`,
      source: 'api',
      operationType: 'query',
      operationName: null,
      outcome: 'committed',
      startedAt: new Date().toISOString(),
      durationMs: 1,
    });
    await post(tenants[1]!.admin.token, '{ conversations { totalCount } }', `${marker}-after-bad`);
    const droppedBefore = (await scrapeMetrics(server.port)).value('tenantgraph_audit_events_dropped_total', { reason: 'rejected' })!;
    await server.audit.flush();

    const written = await asOwner((client) =>
      client.query('select tenant_id::text as tenant, request_id from audit_events where request_id like $1 order by request_id', [`${marker}-%`]),
    );
    expect(written.rows).toEqual([
      ...tenants.map((tenant, i) => ({ tenant: tenant.id, request_id: `${marker}-${i}` })),
      { tenant: tenants[1]!.id, request_id: `${marker}-after-bad` },
    ]);
    const refusedRows = await asOwner((client) =>
      client.query('select claimed_tenant_id::text as tenant, user_id, request_id, reason from refused_context_switches where request_id like $1', [
        `${marker}-%`,
      ]),
    );
    expect(refusedRows.rows).toEqual([{ tenant: unknownTenant, user_id: unknownUser, request_id: `${marker}-unknown`, reason: 'unknown_tenant' }]);
    expect(server.audit.pending).toBe(0);
    expect((await scrapeMetrics(server.port)).value('tenantgraph_audit_events_dropped_total', { reason: 'rejected' })).toBe(droppedBefore + 1);
    const pool = server.database.pool;
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  it('writes a batch whose only fault is an unknown tenant in one transaction and one round trip; bad data costs more, only itself', async () => {
    const [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
    const marker = `one-trip-${randomUUID()}`;
    const event = (tenantId: string, requestId: string) => queryEvent(tenantId, requestId, 'rejected');
    const pool = new pg.Pool({ connectionString: inject('appUrl'), max: 1 });
    try {
      const poisoned = [event(a.id, `${marker}-a`), event(`7${String(Date.now()).slice(-11)}`, `${marker}-unknown`), event(b.id, `${marker}-b`)];
      const clean = await writeAuditBatch(pool, poisoned);
      expect({ written: clean.written.length, retry: clean.retry.length, rejected: clean.rejected.length, transactions: clean.transactions }).toEqual(
        {
          written: 3,
          retry: 0,
          rejected: 0,
          transactions: 1,
        },
      );
      const bad = event(b.id, `${marker}-${'x'.repeat(128)}`);
      const mixed = await writeAuditBatch(pool, [event(a.id, `${marker}-a2`), bad, event(b.id, `${marker}-b2`)]);
      expect(mixed.written.map((e) => e.requestId)).toEqual([`${marker}-a2`, `${marker}-b2`]);
      expect(mixed.rejected.map((r) => [r.event, (r.error as { code?: string }).code])).toEqual([[bad, '23514']]);
      // The whole batch, then each tenant alone, then tenant b's two events one by one.
      expect(mixed.transactions).toBe(5);
    } finally {
      await pool.end();
    }
    const rows = await asOwner((client) =>
      client.query(
        `select (select count(*)::int from audit_events where request_id like $1) as events,
                (select count(*)::int from refused_context_switches where request_id like $1) as refused`,
        [`${marker}-%`],
      ),
    );
    expect(rows.rows[0]).toEqual({ events: 4, refused: 1 });
  });
});

/** A query's audit event of `tenantId` with request id `requestId` (committed unless told). */
function queryEvent(tenantId: string, requestId: string, outcome: 'committed' | 'rejected' = 'committed') {
  return {
    tenantId,
    userId: null,
    requestId,
    source: 'api' as const,
    operationType: 'query' as const,
    operationName: null,
    outcome,
    startedAt: new Date().toISOString(),
    durationMs: 1,
  };
}

/** An AuditLog that never flushes by itself (an hour's interval): the test calls flush() and close(). */
function flushedByHand(pool: pg.Pool, observer: ConstructorParameters<typeof AuditLog>[1]['observer']) {
  return new AuditLog(pool, { flushIntervalMs: 3_600_000, batchSize: 500, maxPending: 10_000, observer });
}

describe('AuditLog batches under steady load', () => {
  it('writes what was buffered when a flush began; events that arrive during the write wait for the next flush', async () => {
    const tenant = await createTestTenant();
    const marker = `steady-${randomUUID()}`;
    const event = (i: number) => queryEvent(tenant.id, `${marker}-${i}`);
    const writes: number[] = [];
    const pool = new pg.Pool({ connectionString: inject('appUrl'), max: 1 });
    const audit = flushedByHand(pool, { dropped: () => {}, retrying: () => {}, written: (count) => writes.push(count) });
    const locker = new pg.Client({ connectionString: inject('ownerUrl') });
    await locker.connect();
    try {
      for (let i = 0; i < 10; i++) audit.enqueue(event(i));
      // The first write waits for this lock, as a write that takes a while under load would.
      await locker.query('begin');
      await locker.query('lock table audit_events in access exclusive mode');
      const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const first = audit.flush();
      await vi.waitFor(
        async () => {
          const { rows } = await asOwner((client) =>
            client.query('select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [lockerPid]),
          );
          expect(rows).toHaveLength(1);
        },
        { timeout: 5000, interval: 20 },
      );
      // Requests go on meanwhile.
      for (let i = 10; i < 13; i++) audit.enqueue(event(i));
      await locker.query('commit');
      await first;
      // One batch of the ten; the three are the next flush's, not a batch of three written straight after.
      expect(writes).toEqual([10]);
      expect(audit.pending).toBe(3);
      await audit.flush();
      expect(writes).toEqual([10, 3]);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
      await audit.close();
      await pool.end();
    }
    const rows = await asOwner((client) => client.query('select count(*)::int as n from audit_events where request_id like $1', [`${marker}-%`]));
    expect(rows.rows[0]).toEqual({ n: 13 });
  });

  it('writes on close also what arrives during its last write', async () => {
    const tenant = await createTestTenant();
    const marker = `closing-${randomUUID()}`;
    const event = (i: number) => queryEvent(tenant.id, `${marker}-${i}`);
    const dropped: string[] = [];
    const pool = new pg.Pool({ connectionString: inject('appUrl'), max: 1 });
    const audit = flushedByHand(pool, { dropped: (reason) => dropped.push(reason), retrying: () => {} });
    try {
      for (let i = 0; i < 5; i++) audit.enqueue(event(i));
      const closing = audit.close();
      // A request that ends while the last write is under way (its transaction ended before the pool closed).
      setImmediate(() => audit.enqueue(event(5)));
      await closing;
      expect(audit.pending).toBe(0);
      expect(dropped).toEqual([]);
    } finally {
      await pool.end();
    }
    const rows = await asOwner((client) => client.query('select count(*)::int as n from audit_events where request_id like $1', [`${marker}-%`]));
    expect(rows.rows[0]).toEqual({ n: 6 });
  });
});

describe('writeAuditBatch', () => {
  it('sends a batch of many tenants as one call of app.write_audit_events in one round trip, each event under its own tenant', async () => {
    const tenants = await Promise.all([createTestTenant(), createTestTenant(), createTestTenant(), createTestTenant()]);
    const marker = `one-call-${randomUUID()}`;
    // Interleaved, as requests arrive: the writer groups them by tenant for the function.
    const events = [0, 1].flatMap((round) =>
      tenants.map((tenant, i) => ({
        tenantId: tenant.id,
        userId: tenant.admin.id,
        requestId: `${marker}-${i}-${round}`,
        source: 'api' as const,
        operationType: 'query' as const,
        operationName: "It's; quoted",
        outcome: 'committed' as const,
        startedAt: new Date(Date.now() + round).toISOString(),
        durationMs: 3,
      })),
    );
    const sent: string[] = [];
    const pool = new pg.Pool({ connectionString: inject('appUrl'), max: 1 });
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        if (typeof args[0] === 'string') sent.push(args[0]);
        return query(...args);
      };
    });
    try {
      const result = await writeAuditBatch(pool, events);
      expect({ written: result.written.length, transactions: result.transactions }).toEqual({ written: 8, transactions: 1 });
    } finally {
      await pool.end();
    }
    // One round trip: the prologue (start transaction; app.enter_tenant of the first tenant), ONE call for all
    // four tenants, commit. No per-tenant statement.
    expect(sent).toHaveLength(1);
    expect(sent[0]!.match(/app\.write_audit_events\(/g)).toHaveLength(1);
    expect(sent[0]).not.toMatch(/insert into|set_config/i);
    expect(sent[0]).toMatch(/^start transaction read write;select \* from app\.enter_tenant\([^)]*\);select app\.write_audit_events\(.*\);commit$/s);
    const rows = await asOwner((client) =>
      client.query('select tenant_id::text as tenant, request_id, operation_name from audit_events where request_id like $1 order by request_id', [
        `${marker}-%`,
      ]),
    );
    expect(rows.rows).toEqual(
      tenants.flatMap((tenant, i) =>
        [0, 1].map((round) => ({ tenant: tenant.id, request_id: `${marker}-${i}-${round}`, operation_name: "It's; quoted" })),
      ),
    );
  });
});

describe('audit trail loss bound', () => {
  it('never holds more than maxPending events unwritten, counts the ones it drops, and writes the rest once the database is back', async () => {
    const logLines: { msg: string; reason?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line));
          done();
        },
      }),
    );
    const bounded = await startTestServer({ audit: { flushIntervalMs: 3_600_000, batchSize: 2, maxPending: 5 }, logger });
    const locker = new pg.Client({ connectionString: inject('ownerUrl') });
    await locker.connect();
    try {
      const tenant = await createTestTenant();
      const marker = `bound-${randomUUID()}`;
      // The audit table is unavailable to the writer: its insert waits for this lock.
      await locker.query('begin');
      await locker.query('lock table audit_events in access exclusive mode');
      for (let i = 0; i < 12; i++) {
        const response = await bounded.post(
          { query: '{ conversations { totalCount } }' },
          { authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': `${marker}-${i}` },
        );
        expect(response.status).toBe(200);
        expect(bounded.audit.pending).toBeLessThanOrEqual(5);
      }
      expect(bounded.audit.pending).toBe(5);
      expect((await scrapeMetrics(bounded.port)).value('tenantgraph_audit_events_dropped_total', { reason: 'buffer_full' })).toBe(7);
      expect((await scrapeMetrics(bounded.port)).value('tenantgraph_audit_events_pending')).toBe(5);
      expect(logLines.filter((line) => line.msg === 'audit events lost').map((line) => line.reason)).toEqual(['buffer_full']);
      await locker.query('commit');
      await bounded.audit.flush();
      await bounded.audit.flush();
      const written = await asOwner((client) =>
        client.query('select request_id from audit_events where request_id like $1 order by created_at', [`${marker}-%`]),
      );
      // Exactly the first five: the bound, in order; the seven that arrived while it was full are lost and counted.
      expect(written.rows.map((r) => r.request_id)).toEqual([0, 1, 2, 3, 4].map((i) => `${marker}-${i}`));
      expect(bounded.audit.pending).toBe(0);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
      await bounded.close();
    }
  });
});

describe('audit writer when the database fails under it', () => {
  it('keeps the events of a write that failed for want of the database and writes each exactly once later', async () => {
    const flaky = await startTestServer({ audit: { flushIntervalMs: 3_600_000, batchSize: 100, maxPending: 100 } });
    const locker = new pg.Client({ connectionString: inject('ownerUrl') });
    await locker.connect();
    try {
      const tenant = await createTestTenant();
      const marker = `retry-${randomUUID()}`;
      for (let i = 0; i < 4; i++) {
        await flaky.post(
          { query: '{ conversations { totalCount } }' },
          { authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': `${marker}-${i}` },
        );
      }
      await locker.query('begin');
      await locker.query('lock table audit_events in access exclusive mode');
      const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const attempt = flaky.audit.flush();
      // The writer's connection waits for the lock; then it is killed, as a failover or a restart would.
      let writerPid = 0;
      await vi.waitFor(
        async () => {
          const { rows } = await asOwner((client) =>
            client.query<{ pid: number }>('select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [lockerPid]),
          );
          expect(rows).toHaveLength(1);
          writerPid = rows[0]!.pid;
        },
        { timeout: 10_000, interval: 10 },
      );
      await asOwner((client) => client.query('select pg_terminate_backend($1)', [writerPid]));
      await attempt;
      expect(flaky.audit.pending).toBe(4);
      const metrics = await scrapeMetrics(flaky.port);
      expect(metrics.value('tenantgraph_audit_write_retries_total')).toBe(1);
      expect(metrics.value('tenantgraph_audit_events_dropped_total', { reason: 'rejected' })).toBe(0);

      await locker.query('commit');
      await flaky.audit.flush();
      const written = await asOwner((client) =>
        client.query('select request_id from audit_events where request_id like $1 order by request_id', [`${marker}-%`]),
      );
      expect(written.rows.map((r) => r.request_id)).toEqual([0, 1, 2, 3].map((i) => `${marker}-${i}`));
      expect(flaky.audit.pending).toBe(0);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
      await flaky.close();
    }
  });
});

describe('audit writer and an exhausted request pool', () => {
  it('writes every buffered event while tenant requests hold every connection of the request pool', async () => {
    // One tenant may hold the whole pool here (the fair share would keep its second mutation out of the pool).
    const busy = await startTestServer({ pool: { max: 2, acquireTimeoutMs: 300 }, fairShare: { connectionsPerTenant: 2 } });
    const locker = new pg.Client({ connectionString: inject('ownerUrl') });
    await locker.connect();
    try {
      const tenant = await createTestTenant();
      const headers = (requestId: string) => ({ authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': requestId });
      const created = await busy.post(
        { query: 'mutation { createConversation(input: { title: "held" }) { conversation { id } } }' },
        headers(`held-${randomUUID()}`),
      );
      const conversationId = created.json.data.createConversation.conversation.id;
      const marker = `busy-${randomUUID()}`;
      for (let i = 0; i < 7; i++)
        expect((await busy.post({ query: '{ conversations { totalCount } }' }, headers(`${marker}-${i}`))).status).toBe(200);
      expect(busy.audit.pending).toBe(7);

      // Two mutations wait for a row lock the owner holds, each on one of the pool's two connections.
      await locker.query('begin');
      await locker.query('select from conversations where tenant_id = $1 for update', [tenant.id]);
      const lockerPid = (await locker.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      const post = 'mutation($id: ID!) { postMessage(input: { conversationId: $id, body: "held" }) { message { id } } }';
      const held = [0, 1].map((i) => busy.post({ query: post, variables: { id: conversationId } }, headers(`${marker}-held-${i}`)));
      await vi.waitFor(
        async () => {
          // Not through `locker`: inside its transaction pg_stat_activity is a snapshot taken once.
          const { rows } = await asOwner((client) =>
            client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [lockerPid]),
          );
          expect(rows[0]!.n).toBe(2);
        },
        { timeout: 10_000, interval: 20 },
      );
      // The request pool is exhausted: another tenant request waits (in the fair scheduler) and gives up.
      expect((await busy.post({ query: '{ viewer { user { id } } }' }, headers(`${marker}-starved`))).json.errors[0].extensions.code).toBe(
        'SERVER_BUSY',
      );

      await busy.audit.flush();
      await locker.query('commit');
      expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
      await busy.audit.flush();
      const written = await asOwner((client) =>
        client.query<{ n: number }>('select count(*)::int as n from audit_events where request_id = any($1)', [
          [0, 1, 2, 3, 4, 5, 6].map((i) => `${marker}-${i}`),
        ]),
      );
      expect(written.rows[0]!.n).toBe(7);
      expect(busy.audit.pending).toBe(0);
      expect((await scrapeMetrics(busy.port)).value('tenantgraph_audit_events_dropped_total', { reason: 'buffer_full' })).toBe(0);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
      await busy.close();
    }
  });
});
