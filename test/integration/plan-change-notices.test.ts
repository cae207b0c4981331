import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withOwnerClient } from '../support/owner-db.js';
import { scrapeMetrics } from '../support/prometheus.js';
import { directAppUrl, eventually } from '../support/realtime-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// Plan changes announced by migrations/0021 (what is announced: test/rls/plan-change-notices.test.ts) and heard by
// every server (src/tenancy/plan-change-listener.ts), over real LISTEN/NOTIFY. Other test files change plans and plan_limits in the same database at the same time; their
// notices name other tenants, or all of them, so an assertion that an entry survived is made only when no
// notice for all tenants came in between (then the round is repeated).

const VIEWER = '{ viewer { user { id } } }';

async function viewer(server: TestServer, tenant: TestTenant): Promise<number> {
  return (await server.post({ query: VIEWER }, { authorization: `Bearer ${tenant.admin.token}` })).status;
}

/** Serves a request of the tenant on `server` until its plan is cached there (a tenant's creation is a notice too). */
const cachedOn = (server: TestServer, tenant: TestTenant) =>
  eventually(async () => (await viewer(server, tenant)) === 200 && server.plans.planCache.has(tenant.id), `tenant ${tenant.id} cached`);

/** A plan of its own for one test (inserted as the owner; that insert is itself a notice for all tenants). */
async function newPlan(rate: number, burst: number): Promise<string> {
  const plan = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await withOwnerClient((client) => client.query('insert into plan_limits values ($1, $2, $3, 0.25, 5000, 8000)', [plan, rate, burst]));
  return plan;
}

const setPlan = (tenant: TestTenant, plan: string) =>
  withOwnerClient((client) => client.query('update tenants set plan = $1 where id = $2', [plan, tenant.id]));

const evictionsOfAll = async (server: TestServer) =>
  (await scrapeMetrics(server.port)).value('tenantgraph_plan_cache_evictions_total', { scope: 'all' }) ?? 0;
const staleReads = async (server: TestServer) => (await scrapeMetrics(server.port)).value('tenantgraph_plan_reads_total', { reason: 'stale' }) ?? 0;

describe('plan change notices (migrations/0021) heard by two replicas', () => {
  let replicas: TestServer[];
  beforeAll(async () => {
    const options = { fairShare: { rateLimit: true, planListenUrl: directAppUrl(), planCacheTtlMs: 30_000, planCacheListeningTtlMs: 600_000 } };
    replicas = await Promise.all([startTestServer(options), startTestServer(options)]);
  });
  afterAll(async () => {
    await Promise.all((replicas ?? []).map((server) => server.close()));
  });

  it("evicts exactly that tenant's entry on every replica, and its next request runs under the new limits", async () => {
    const plan = await newPlan(1, 1);
    for (let attempt = 1; ; attempt++) {
      const changed = await createTestTenant();
      const other = await createTestTenant();
      for (const server of replicas) {
        await cachedOn(server, changed);
        await cachedOn(server, other);
      }
      const allBefore = await Promise.all(replicas.map(evictionsOfAll));
      await setPlan(changed, plan);
      await eventually(() => replicas.every((server) => !server.plans.planCache.has(changed.id)), "the changed tenant's eviction on both replicas");
      const allAfter = await Promise.all(replicas.map(evictionsOfAll));
      // A notice for all tenants from another test came in between: it proves nothing about `other`; go again.
      if (allAfter.some((n, i) => n !== allBefore[i]) && attempt < 5) continue;
      for (const server of replicas) expect(server.plans.planCache.has(other.id)).toBe(true);
      // Plan `plan` allows one request (burst 1) per second: the second is refused on each replica (each counts
      // in its own memory). Under the cached standard plan both would be served.
      for (const server of replicas) {
        expect(await viewer(server, changed)).toBe(200);
        expect(await viewer(server, changed)).toBe(429);
        expect(await viewer(server, other)).toBe(200);
      }
      return;
    }
  });

  it('evicts every entry when a plan_limits row changes, and the next request runs under the new limits', async () => {
    const plan = await newPlan(50, 100);
    const tenant = await createTestTenant();
    const bystander = await createTestTenant();
    await setPlan(tenant, plan);
    const [server] = replicas as [TestServer, TestServer];
    // Cached after the tenant's notice: by a request that waited for a read of the new plan.
    await cachedOn(server, tenant);
    await cachedOn(server, bystander);
    await withOwnerClient((client) => client.query('update plan_limits set requests_per_second = 1, burst = 1 where plan = $1', [plan]));
    await eventually(() => !server.plans.planCache.has(tenant.id) && !server.plans.planCache.has(bystander.id), 'every entry evicted');
    expect(await viewer(server, tenant)).toBe(200);
    expect(await viewer(server, tenant)).toBe(429);
  });
});

describe('the plan change listener losing its connection', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  beforeAll(async () => {
    const direct = new URL(directAppUrl());
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
    const proxied = new URL(direct);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    // A short freshness of 3 s (heartbeats every second), so the test can outwait it.
    server = await startTestServer({
      fairShare: { planListenUrl: proxied.toString(), planCacheTtlMs: 3000, planCacheListeningTtlMs: 600_000 },
    });
  });
  afterEach(async () => {
    await proxy.restore().catch(() => {});
  });
  afterAll(async () => {
    await server?.close();
    await proxy?.close();
  });

  it('keeps entries fresh past the short TTL while listening, falls back to it while cut off, and clears on reconnect', async () => {
    const tenant = await createTestTenant();
    const { planCache, planListener } = server.plans;
    expect(planListener?.connected).toBe(true);
    await cachedOn(server, tenant);
    await new Promise((resolve) => setTimeout(resolve, 3300));
    // Older than the short TTL, but the listener vouches: served from the cache, no re-read.
    const staleBefore = await staleReads(server);
    expect(planCache.listening).toBe(true);
    expect(await viewer(server, tenant)).toBe(200);
    expect(await staleReads(server)).toBe(staleBefore);

    await proxy.cut();
    await eventually(() => !planListener!.connected && !planCache.listening, 'the listener to notice the cut');
    expect(planCache.has(tenant.id)).toBe(true);
    // Cut off: the same entry is stale under the short TTL, so this request re-reads it in the background.
    expect(await viewer(server, tenant)).toBe(200);
    await eventually(async () => (await staleReads(server)) === staleBefore + 1, 'a stale re-read');

    const reconnectsBefore = (await scrapeMetrics(server.port)).value('tenantgraph_plan_listener_reconnects_total') ?? 0;
    await proxy.restore();
    await eventually(() => planListener!.connected, 'the listener to reconnect', 15_000);
    // Notices may have been missed while it was away: nothing cached survives the reconnect.
    expect(planCache.has(tenant.id)).toBe(false);
    expect(planCache.listening).toBe(true);
    expect((await scrapeMetrics(server.port)).value('tenantgraph_plan_listener_reconnects_total')).toBe(reconnectsBefore + 1);
  });

  it('treats a connection that stopped answering (no FIN, no RST) as lost: the short TTL at once, then a new connection', async () => {
    const { planCache, planListener } = server.plans;
    await eventually(() => planListener!.connected && planCache.listening, 'the listener connected');
    const pid = planListener!.backendPid!;
    proxy.stall();
    // Heartbeats every second go unanswered: after one whole interval the connection counts as lost.
    await eventually(() => !planCache.listening, 'the cache to stop trusting the notices', 8000);
    await eventually(() => planListener!.connected && planListener!.backendPid !== pid, 'a new LISTEN connection', 15_000);
    expect(planCache.listening).toBe(true);
    // The stalled backend is still there, waiting for a client that no longer reads.
    await withOwnerClient((client) => client.query('select pg_terminate_backend($1)', [pid]));
  });

  it('reconnects after its backend is terminated (pg_terminate_backend) and clears the cache', async () => {
    const tenant = await createTestTenant();
    const { planCache, planListener } = server.plans;
    await eventually(() => planListener!.connected, 'the listener connected');
    await cachedOn(server, tenant);
    const pid = planListener!.backendPid!;
    await withOwnerClient((client) => client.query('select pg_terminate_backend($1)', [pid]));
    await eventually(() => planListener!.connected && planListener!.backendPid !== pid, 'a new LISTEN connection');
    expect(planCache.has(tenant.id)).toBe(false);
    // And it hears notices again: a plan change evicts the re-read entry.
    await cachedOn(server, tenant);
    await setPlan(tenant, 'free');
    await eventually(() => !planCache.has(tenant.id), 'the eviction after the reconnect');
  });
});
