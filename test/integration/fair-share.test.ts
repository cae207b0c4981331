import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { withOwnerClient } from '../support/owner-db.js';
import { scrapeMetrics } from '../support/prometheus.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

// Issue 8 §1 over real HTTP and real concurrency. Slow requests are mutations blocked on a row lock that an owner
// connection holds, so "slow" is a state the test controls and observes in pg_locks, not a duration.

const VIEWER = '{ viewer { user { id } } }';
const RENAME = 'mutation ($input: RenameConversationInput!) { renameConversation(input: $input) { conversation { id title } } }';

/** An owner transaction holding the row lock of one conversation until `release()`. */
async function lockConversation(tenantId: string, conversationId: string): Promise<{ pid: number; release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: inject('ownerUrl'), application_name: 'tenantgraph-test-lock' });
  await client.connect();
  await client.query('begin');
  await client.query('select 1 from conversations where tenant_id = $1 and id = $2 for update', [tenantId, conversationId]);
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  return {
    pid: rows[0]!.pid,
    async release() {
      await client.query('commit');
      await client.end();
    },
  };
}

/** Backends waiting, directly or behind another waiter, for the lock `pid` holds. */
async function blockedBehind(pid: number): Promise<number> {
  const { rows } = await withOwnerClient((client) =>
    client.query<{ count: number }>(
      `with recursive blocked(pid) as (
         select pid from pg_stat_activity where $1::int = any(pg_blocking_pids(pid))
         union
         select a.pid from pg_stat_activity a join blocked b on b.pid = any(pg_blocking_pids(a.pid)))
       select count(*)::int as count from blocked`,
      [pid],
    ),
  );
  return rows[0]!.count;
}

async function createConversation(server: TestServer, tenant: TestTenant): Promise<{ globalId: string; uuid: string }> {
  const created = await server.post(
    {
      query: 'mutation ($input: CreateConversationInput!) { createConversation(input: $input) { conversation { id } } }',
      variables: { input: { title: 'locked' } },
    },
    { authorization: `Bearer ${tenant.admin.token}` },
  );
  expect(created.status).toBe(200);
  const globalId: string = created.json.data.createConversation.conversation.id;
  const { rows } = await withOwnerClient((client) =>
    client.query<{ id: string }>("select id from conversations where tenant_id = $1 and title = 'locked'", [tenant.id]),
  );
  return { globalId, uuid: rows[0]!.id };
}

/** A plan of its own for one test, inserted as the owner; the tenant is moved onto it. */
async function putOnNewPlan(
  tenant: TestTenant,
  limits: { rate: number; burst: number; share: number; statementMs: number; requestMs: number },
): Promise<string> {
  const plan = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await withOwnerClient(async (client) => {
    await client.query('insert into plan_limits values ($1, $2, $3, $4, $5, $6)', [
      plan,
      limits.rate,
      limits.burst,
      limits.share,
      limits.statementMs,
      limits.requestMs,
    ]);
    await client.query('update tenants set plan = $1 where id = $2', [plan, tenant.id]);
  });
  return plan;
}

describe('fair share of the pool (HTTP, real concurrency)', () => {
  let server: TestServer;
  beforeAll(async () => {
    // 4 connections for tenants, 2 per tenant: a flood of one tenant can hold half of them, never all.
    server = await startTestServer({
      pool: { max: 4, acquireTimeoutMs: 15_000 },
      fairShare: { connectionsPerTenant: 2, planCacheTtlMs: 0, rateLimit: true },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves another tenant's viewer while one tenant floods with more slow requests than its share, whose excess waits behind itself", async () => {
    const flooder = await createTestTenant();
    const victim = await createTestTenant();
    const conversation = await createConversation(server, flooder);
    const lock = await lockConversation(flooder.id, conversation.uuid);
    let flood: Promise<{ status: number; json: any }[]> | undefined;
    try {
      flood = Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          server.post(
            { query: RENAME, variables: { input: { id: conversation.globalId, title: `flood ${i}` } } },
            { authorization: `Bearer ${flooder.admin.token}` },
          ),
        ),
      );
      // Two of the flood hold connections (blocked on the lock); the other four wait for the flooder's own turn.
      await vi.waitFor(async () => expect(await blockedBehind(lock.pid)).toBe(2), { timeout: 10_000, interval: 20 });

      const viewer = await server.post({ query: VIEWER }, { authorization: `Bearer ${victim.admin.token}` });
      expect(viewer.status).toBe(200);
      expect(viewer.json.data.viewer.user.id).toBeTruthy();
      // The flooder's excess is still queued in the scheduler, not on a connection.
      expect(await blockedBehind(lock.pid)).toBe(2);
    } finally {
      await lock.release();
    }
    const responses = await flood!;
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(responses.every((r) => r.json.data.renameConversation.conversation.id === conversation.globalId)).toBe(true);
  });

  it('stops waiting for a request whose client went away, so it takes no slot and its work never runs', async () => {
    const flooder = await createTestTenant();
    const conversation = await createConversation(server, flooder);
    const lock = await lockConversation(flooder.id, conversation.uuid);
    const waiting = async () => (await scrapeMetrics(server.port)).value('tenantgraph_fair_share_waiting');
    let held: Promise<{ status: number }[]> | undefined;
    try {
      const rename = (title: string, signal?: AbortSignal) =>
        fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${flooder.admin.token}` },
          body: JSON.stringify({ query: RENAME, variables: { input: { id: conversation.globalId, title } } }),
          ...(signal ? { signal } : {}),
        });
      held = Promise.all([rename('held 1'), rename('held 2')]);
      await vi.waitFor(async () => expect(await blockedBehind(lock.pid)).toBe(2), { timeout: 10_000, interval: 20 });
      const gone = new AbortController();
      const abandoned = rename('never', gone.signal).catch((error: unknown) => error);
      await vi.waitFor(async () => expect(await waiting()).toBe(1), { timeout: 10_000, interval: 20 });
      gone.abort();
      expect(await abandoned).toBeInstanceOf(Error);
      // Removed from the queue at once, long before its 15 s wait would have ended.
      await vi.waitFor(async () => expect(await waiting()).toBe(0), { timeout: 5000, interval: 20 });
    } finally {
      await lock.release();
    }
    expect((await held!).map((r) => r.status)).toEqual([200, 200]);
    const { rows } = await withOwnerClient((client) =>
      client.query<{ title: string }>('select title from conversations where tenant_id = $1', [flooder.id]),
    );
    expect(rows[0]!.title).not.toBe('never');
    expect((await scrapeMetrics(server.port)).value('tenantgraph_fair_share_permits_in_use')).toBe(0);
  });

  it("answers 429 RATE_LIMITED with Retry-After past the plan's burst, and a plan change takes effect without a restart", async () => {
    const tenant = await createTestTenant();
    const auth = { authorization: `Bearer ${tenant.admin.token}` };
    const plan = await putOnNewPlan(tenant, { rate: 1, burst: 2, share: 0.25, statementMs: 5000, requestMs: 5000 });
    const first = await server.post({ query: VIEWER }, auth);
    const second = await server.post({ query: VIEWER }, auth);
    expect([first.status, second.status]).toEqual([200, 200]);

    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ query: VIEWER }),
    });
    const body = (await response.json()) as any;
    expect(response.status).toBe(429);
    expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'requestsPerSecond', plan, requestsPerSecond: 1 });
    // Whole seconds left in the window: how many depends on when in it the request came.
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // An operator moves the tenant to a bigger plan: the very next request is served, with no restart.
    await withOwnerClient((client) => client.query("update tenants set plan = 'standard' where id = $1", [tenant.id]));
    const upgraded = await server.post({ query: VIEWER }, auth);
    expect(upgraded.status).toBe(200);
    expect(upgraded.json.data.viewer.user.id).toBeTruthy();
  });

  it("cancels the running statement at the plan's request deadline, rolls back, returns the connection and names the limit", async () => {
    const tenant = await createTestTenant();
    const auth = { authorization: `Bearer ${tenant.admin.token}` };
    const conversation = await createConversation(server, tenant);
    // The statement timeout is far away: only the whole-request deadline can end the wait.
    const plan = await putOnNewPlan(tenant, { rate: 50, burst: 100, share: 0.25, statementMs: 60_000, requestMs: 400 });
    const lock = await lockConversation(tenant.id, conversation.uuid);
    try {
      const timedOut = await server.post({ query: RENAME, variables: { input: { id: conversation.globalId, title: 'too late' } } }, auth);
      expect(timedOut.status).toBe(503);
      expect(timedOut.json.errors).toHaveLength(1);
      expect(timedOut.json.errors[0].extensions).toMatchObject({ code: 'REQUEST_TIMEOUT', limit: 'requestTimeoutMs', plan, requestTimeoutMs: 400 });
      expect(timedOut.json.data).toBeUndefined();
      // The blocked UPDATE was cancelled while the lock is still held: nothing waits on it any more.
      await vi.waitFor(async () => expect(await blockedBehind(lock.pid)).toBe(0), { timeout: 5000, interval: 20 });
    } finally {
      await lock.release();
    }
    const { rows } = await withOwnerClient((client) =>
      client.query<{ title: string }>('select title from conversations where tenant_id = $1', [tenant.id]),
    );
    expect(rows).toEqual([{ title: 'locked' }]);
    // Permit and connection came back, and the cancelled connection was destroyed, not handed to the next request
    // (closing it after the release killed the next request's connection: SERVICE_UNAVAILABLE, 1 run in 4).
    const after = await server.post({ query: VIEWER }, auth);
    expect(after.status).toBe(200);
  });
});

describe('fair share deadline (HTTP)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      pool: { max: 2, acquireTimeoutMs: 300 },
      fairShare: { connectionsPerTenant: 1, planCacheTtlMs: 0, rateLimit: true },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('gives the permit back when the transaction cannot begin (a refused member), so the share never leaks', async () => {
    const tenant = await createTestTenant();
    const stranger = await tokenFor(tenant.id, randomUUID());
    // The share is one connection: a single leaked permit would make every later request SERVER_BUSY.
    for (let i = 0; i < 3; i++) {
      const refused = await server.post({ query: VIEWER }, { authorization: `Bearer ${stranger}` });
      expect(refused.status).toBe(401);
    }
    const served = await server.post({ query: VIEWER }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(served.status).toBe(200);
    expect((await scrapeMetrics(server.port)).value('tenantgraph_fair_share_permits_in_use')).toBe(0);
  });

  it("answers 503 SERVER_BUSY with Retry-After when the tenant's share stays full past the wait, while another tenant is served", async () => {
    const flooder = await createTestTenant();
    const other = await createTestTenant();
    const conversation = await createConversation(server, flooder);
    const lock = await lockConversation(flooder.id, conversation.uuid);
    let held: Promise<{ status: number }> | undefined;
    try {
      held = server.post(
        { query: RENAME, variables: { input: { id: conversation.globalId, title: 'held' } } },
        { authorization: `Bearer ${flooder.admin.token}` },
      );
      await vi.waitFor(async () => expect(await blockedBehind(lock.pid)).toBe(1), { timeout: 10_000, interval: 20 });
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${flooder.admin.token}` },
        body: JSON.stringify({ query: VIEWER }),
      });
      const body = (await response.json()) as any;
      expect(response.status).toBe(503);
      expect(body.errors[0].extensions).toMatchObject({ code: 'SERVER_BUSY', limit: 'connectionShare', share: 1 });
      expect(response.headers.get('retry-after')).toBe('1');
      // The pool's second connection is free for everyone else.
      const served = await server.post({ query: VIEWER }, { authorization: `Bearer ${other.admin.token}` });
      expect(served.status).toBe(200);
    } finally {
      await lock.release();
    }
    expect((await held!).status).toBe(200);
  });
});
