import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { createAppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import { isTenantSuspended, listenForTenantLifecycle, type TenantLifecycleNotice } from '../../src/tenancy/tenant-lifecycle-events.js';
import { withOwnerClient } from '../support/owner-db.js';
import { runCliInProcess } from '../support/processes.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';
import { bearer, createConversation, directAppUrl, eventually, MESSAGE_POSTED, openSocket, postMessage } from '../support/realtime-client.js';

const databaseEnv = () => ({ DATABASE_URL: inject('ownerUrl'), DATABASE_URL_APP: inject('appUrl'), JWT_SECRET: TEST_JWT_SECRET });
const cli = (...args: string[]) => runCliInProcess(args, databaseEnv());

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

async function viewerStatus(token: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { tenant { name } } }' }),
  });
  return {
    status: response.status,
    json: (await response.json()) as { data?: unknown; errors?: { message: string; extensions: { code: string } }[] },
  };
}

/** Every row of the tenant in every table, counted as the owner (who sees all tenants). */
async function rowCounts(tenantId: string): Promise<Record<string, number>> {
  return withOwnerClient(async (client) => {
    const counts: Record<string, number> = {};
    for (const table of ['users', 'conversations', 'messages']) {
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from ${table} where tenant_id = $1`, [tenantId]);
      counts[table] = Number(rows[0]!.n);
    }
    return counts;
  });
}

describe('cli tenant suspend / resume', () => {
  let tenant: TestTenant;
  let bystander: TestTenant;
  beforeAll(async () => {
    [tenant, bystander] = await Promise.all([createTestTenant(), createTestTenant()]);
    const created = await server.post(
      { query: 'mutation { createConversation(input: { title: "Before suspension" }) { conversation { id } } }' },
      { authorization: `Bearer ${tenant.admin.token}` },
    );
    expect(created.json.errors).toBeUndefined();
  });

  it('refuses the suspended tenant with 403 TENANT_SUSPENDED in the prologue, leaves its data and other tenants alone, and serves it again after resume', async () => {
    // A token verified (and cached by the verifier) before the suspension: the cache must not let it through.
    expect((await viewerStatus(tenant.admin.token)).status).toBe(200);
    const before = await rowCounts(tenant.id);

    const suspended = await cli('tenant', 'suspend', '--tenant', tenant.id, '--reason', 'invoice 42 unpaid');
    expect(suspended.stderr).toBe('');
    expect(suspended.status).toBe(0);
    expect(JSON.parse(suspended.stdout)).toMatchObject({
      changed: true,
      tenant: { id: tenant.id, suspendedAt: expect.any(String), suspensionReason: 'invoice 42 unpaid' },
    });

    server.statements.length = 0;
    const refused = await viewerStatus(tenant.admin.token);
    expect(refused.status).toBe(403);
    expect(refused.json.errors?.[0]?.extensions.code).toBe('TENANT_SUSPENDED');
    expect(refused.json.data ?? null).toBeNull();
    // Decided in the one prologue round trip: nothing else ran.
    expect(server.statements).toEqual([expect.stringMatching(/^start transaction read only;select \* from app\.enter_tenant\(/), 'rollback']);

    expect((await viewerStatus(bystander.admin.token)).status).toBe(200);
    expect(await rowCounts(tenant.id)).toEqual(before);

    const again = await cli('tenant', 'suspend', '--tenant', tenant.id);
    expect(JSON.parse(again.stdout)).toMatchObject({ changed: false });
    expect(again.stderr).toMatch(/suspended already/);

    const resumed = await cli('tenant', 'resume', '--tenant', tenant.id);
    expect(resumed.status).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ changed: true, tenant: { suspendedAt: null, suspensionReason: null } });
    expect((await viewerStatus(tenant.admin.token)).status).toBe(200);
    expect(await rowCounts(tenant.id)).toEqual(before);
  });

  it("records the suspension and the resumption in the tenant's audit trail, with the reason", async () => {
    const subject = await createTestTenant();
    await cli('tenant', 'suspend', '--tenant', subject.id, '--reason', 'chargeback');
    await cli('tenant', 'resume', '--tenant', subject.id);
    const response = await server.post(
      { query: '{ auditEvents(first: 10, filter: { operationType: LIFECYCLE }) { nodes { source operationType operationName outcome detail } } }' },
      { authorization: `Bearer ${subject.admin.token}` },
    );
    expect(response.json.errors).toBeUndefined();
    const nodes = response.json.data.auditEvents.nodes;
    expect(nodes).toEqual([
      { source: 'cli', operationType: 'LIFECYCLE', operationName: 'tenant.resumed', outcome: 'COMMITTED', detail: null },
      { source: 'cli', operationType: 'LIFECYCLE', operationName: 'tenant.suspended', outcome: 'COMMITTED', detail: 'chargeback' },
    ]);
  });

  it('issues no token for a suspended tenant, and issues one again after resume', async () => {
    const subject = await createTestTenant();
    await cli('tenant', 'suspend', '--tenant', subject.id);
    const refused = await cli('token', '--tenant', subject.id, '--user', subject.admin.id);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/is suspended: no tokens are issued/);
    await cli('tenant', 'resume', '--tenant', subject.id);
    const issued = await cli('token', '--tenant', subject.id, '--user', subject.admin.id);
    expect(issued.status).toBe(0);
    expect(decodeJwt(issued.stdout.trim()).sub).toBe(subject.admin.id);
  });

  it('refuses an unknown tenant and bad flags with a clear message', async () => {
    expect((await cli('tenant', 'suspend', '--tenant', '999999999999999998')).stderr).toMatch(/No tenant 999999999999999998/);
    const bad = await cli('tenant', 'resume', '--tenant', '1', '--reason', 'x');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--reason'/);
  });
});

describe('listenForTenantLifecycle and isTenantSuspended (the hook for closing live connections)', () => {
  it('announces a suspension and a resumption when they commit, and answers the current state', async () => {
    const subject = await createTestTenant();
    const notices: TenantLifecycleNotice[] = [];
    const listener = await listenForTenantLifecycle(inject('appUrl'), (notice) => {
      if (notice.tenantId === subject.id) notices.push(notice);
    });
    const pool = createPool({ connectionString: inject('appUrl'), max: 1, applicationName: 'tenantgraph-test-suspension' });
    const database = createAppDatabase(pool);
    try {
      expect(await isTenantSuspended(database, subject.id)).toBe(false);
      await cli('tenant', 'suspend', '--tenant', subject.id);
      await vi.waitFor(() => expect(notices).toEqual([{ tenantId: subject.id, event: 'tenant.suspended' }]));
      expect(await isTenantSuspended(database, subject.id)).toBe(true);
      await cli('tenant', 'resume', '--tenant', subject.id);
      await vi.waitFor(() => expect(notices.at(-1)).toEqual({ tenantId: subject.id, event: 'tenant.resumed' }));
      expect(await isTenantSuspended(database, subject.id)).toBe(false);
    } finally {
      await listener.close();
      await database.db.destroy();
      await pool.end().catch(() => {});
    }
  });
});

describe('a suspended tenant in the SDK client', () => {
  it('surfaces TENANT_SUSPENDED as the error code', async () => {
    const subject = await createTestTenant();
    await cli('tenant', 'suspend', '--tenant', subject.id);
    const response = await server.client(subject.admin.token).request(ViewerDocument);
    expect(response.errors?.[0]?.extensions?.code).toBe('TENANT_SUSPENDED');
  });
});

/** A tenant and a bystander, each with a conversation and a live subscriber to it (started on the server). */
async function subscribedPair(realtimeServer: TestServer) {
  const [tenant, bystander] = await Promise.all([createTestTenant(), createTestTenant()]);
  const rooms = await Promise.all([
    createConversation(realtimeServer, tenant.admin.token),
    createConversation(realtimeServer, bystander.admin.token),
  ]);
  const sockets = [openSocket(realtimeServer, bearer(tenant.admin.token)), openSocket(realtimeServer, bearer(bystander.admin.token))];
  const subs = sockets.map((socket, i) => socket.subscribe(MESSAGE_POSTED, { id: rooms[i] }));
  await eventually(
    () => realtimeServer.realtime.subscriptionsOf(tenant.id) === 1 && realtimeServer.realtime.subscriptionsOf(bystander.id) === 1,
    'both subscriptions',
  );
  return { tenant, bystander, rooms, sockets, subs };
}

describe('suspension and live subscriptions (issue 13 §2, with realtime)', () => {
  it("ends a suspended tenant's subscriptions within a batch window (4403 TENANT_SUSPENDED) and refuses its new sockets; the bystander goes on", async () => {
    const realtimeServer = await startTestServer({ realtime: { listenUrl: directAppUrl(), pollIntervalMs: 200 } });
    try {
      const { tenant, bystander, rooms, sockets, subs } = await subscribedPair(realtimeServer);

      expect((await cli('tenant', 'suspend', '--tenant', tenant.id, '--reason', 'realtime test')).status).toBe(0);
      // The suspended tenant has nothing to write (its requests are refused): its next batch (at the latest the
      // polling safety net) finds the suspension and ends the subscription.
      expect(await sockets[0]!.closed).toEqual({ code: 4403, reason: expect.stringMatching(/^TENANT_SUSPENDED/) });
      expect((await openSocket(realtimeServer, bearer(tenant.admin.token)).closed).code).toBe(4403);

      await postMessage(realtimeServer, bystander.admin.token, rooms[1]!, 'still live');
      expect((await subs[1]!.waitFor(1))[0].messagePosted.message.body).toBe('still live');
      await sockets[1]!.close();
    } finally {
      await realtimeServer.close();
    }
  });
});

describe('deletion and live subscriptions (issue 13 §4, with realtime)', () => {
  it("ends a deleted tenant's subscriptions within a batch window (4403) and leaves another tenant's live", async () => {
    const realtimeServer = await startTestServer({ realtime: { listenUrl: directAppUrl(), pollIntervalMs: 200 } });
    try {
      const { tenant, bystander, rooms, sockets, subs } = await subscribedPair(realtimeServer);
      // The socket's own audit events are written by the audit pool: flushed first, so the deletion finds them.
      await realtimeServer.audit.flush();
      const deleted = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name);
      expect(deleted.status, deleted.stderr).toBe(0);
      expect((await sockets[0]!.closed).code).toBe(4403);
      await postMessage(realtimeServer, bystander.admin.token, rooms[1]!, 'still live after a deletion');
      expect((await subs[1]!.waitFor(1))[0].messagePosted.message.body).toBe('still live after a deletion');
      await sockets[1]!.close();
    } finally {
      await realtimeServer.close();
    }
  });
});
