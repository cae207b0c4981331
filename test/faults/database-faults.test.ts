import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startPrivateCluster } from './support/private-cluster.js';
import { createTenant } from '../../src/admin/tenants.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { connectClient } from '../../src/db/guarded-client.js';
import { APP_ROLE } from '../../src/db/prepare-database.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { TEST_JWT_SECRET } from '../support/server.js';
import { exited, freePort, spawnServer, waitForOutput } from '../support/processes.js';
import { checkStoredWrites, exemptFromRateLimit, moreAnswers, startMixedLoad, type MixedLoad } from './support/mixed-load.js';

/**
 * Faults of the database under a running API process (a real `src/main.ts` child, a real PostgreSQL, no mocks):
 * its connections terminated by an operator, PostgreSQL stopped and started again. Each test asserts that the
 * process survives, answers only successes or clean 503 SERVICE_UNAVAILABLE with Retry-After while the fault
 * lasts, recovers by itself, and that every acknowledged write is stored exactly once (checked as the owner).
 *
 * Each test has a database of its own: terminating "every app-role backend" must not hit other test files.
 */

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}, 60_000);

interface Api {
  child: ChildProcess;
  url: string;
  port: number;
}

async function startApi(ownerUrl: string, appUrl: string): Promise<Api> {
  const port = await freePort();
  const child = spawnServer({
    NODE_ENV: 'development',
    DATABASE_URL: ownerUrl,
    DATABASE_URL_APP: appUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    SEED_DEMO_DATA: 'false',
    PORT: String(port),
    HOST: '127.0.0.1',
    DB_POOL_MAX: '6',
  });
  children.push(child);
  await waitForOutput(child, (text) => text.includes('Tenantgraph is running'), 60_000);
  return { child, url: `http://127.0.0.1:${port}/graphql`, port };
}

/** A tenant with a conversation in the given database, and a load target for it. */
async function loadTargetIn(ownerUrl: string, api: Api) {
  const provisioned = await createTenant(ownerUrl, { name: 'Faulty', adminEmail: `ada-${Date.now()}@faults.test` });
  await exemptFromRateLimit(ownerUrl, provisioned.tenant.id);
  const authorization = `Bearer ${await issueToken({ secret: TEST_JWT_SECRET, tenantId: provisioned.tenant.id, userId: provisioned.user.id, ttl: '1h' })}`;
  const created = await fetch(api.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query: 'mutation { createConversation(input: { title: "Faults" }) { conversation { id } } }' }),
  });
  const conversationId: string = ((await created.json()) as any).data.createConversation.conversation.id;
  return {
    tenantId: provisioned.tenant.id,
    conversationLocalId: decodeGlobalId(conversationId, 'Conversation').localId,
    target: { url: api.url, authorization, conversationId },
  };
}

async function healthStatus(api: Api): Promise<number | 'no answer'> {
  try {
    // Far beyond the probe's own 1 s deadline: a hang shows as 'no answer'.
    return (await fetch(`http://127.0.0.1:${api.port}/health`, { signal: AbortSignal.timeout(10_000) })).status;
  } catch {
    return 'no answer';
  }
}

/** /health is a question the API answers, not an event it sends: polled until it answers `status`. */
async function untilHealth(api: Api, status: number): Promise<void> {
  await vi.waitFor(
    async () => {
      const answered = await healthStatus(api);
      if (answered !== status) throw new Error(`/health never answered ${status} (last: ${answered})`);
    },
    { timeout: 30_000, interval: 100 },
  );
}

async function expectHonestAndComplete(load: MixedLoad, ownerUrl: string, tenantId: string, conversationLocalId: string) {
  expect(load.unexpected()).toEqual([]);
  const stored = await checkStoredWrites(ownerUrl, tenantId, conversationLocalId, load.acked);
  expect(stored.ackedMissing).toEqual([]);
  expect(stored.duplicated).toEqual([]);
  // At least: a write whose answer was lost with its connection may still have committed (nondeterministic).
  expect(stored.stored).toBeGreaterThanOrEqual(load.acked.length);
  expect(stored.messageCount).toBe(stored.stored);
  expect(stored.committedAuditEvents).toBe(stored.stored);
}

describe('the API process under database faults', () => {
  it(
    'survives every app-role backend being terminated under load, answering only successes or 503s, and loses no acknowledged write',
    { timeout: 120_000 },
    async () => {
      const database: TestDatabase = await createTestDatabase();
      cleanups.push(() => database.drop());
      const api = await startApi(database.ownerUrl, database.appUrl);
      cleanups.push(async () => void api.child.kill('SIGKILL'));
      const { tenantId, conversationLocalId, target } = await loadTargetIn(database.ownerUrl, api);

      const load = startMixedLoad(target, { tag: 'terminate' });
      const owner = await connectClient({ connectionString: database.ownerUrl });
      try {
        for (let round = 0; round < 3; round++) {
          await load.until(moreAnswers('ok', 15, load.answers.length), `successes before termination ${round + 1}`);
          const { rows } = await owner.query<{ n: number }>(
            `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
            where usename = $1 and datname = current_database() and pid <> pg_backend_pid()`,
            [APP_ROLE],
          );
          // How many app connections are open at this instant depends on the load's timing: some, not a number.
          expect(rows[0]!.n).toBeGreaterThan(0);
        }
        await load.until(moreAnswers('ok', 15, load.answers.length), 'successes after the last termination');
      } finally {
        await owner.end();
        await load.stop();
      }

      expect(api.child.exitCode).toBeNull();
      expect(api.child.signalCode).toBeNull();
      expect(await healthStatus(api)).toBe(200);
      await expectHonestAndComplete(load, database.ownerUrl, tenantId, conversationLocalId);
    },
  );

  it(
    'answers 503 while PostgreSQL is stopped and recovers by itself when it is back, losing no acknowledged write',
    { timeout: 180_000 },
    async () => {
      const cluster = await startPrivateCluster(cleanups, 'faults', 'fa017fa017');
      const { ownerUrl } = cluster;
      const api = await startApi(ownerUrl, cluster.appUrl);
      const { tenantId, conversationLocalId, target } = await loadTargetIn(ownerUrl, api);

      const load = startMixedLoad(target, { tag: 'restart' });
      try {
        await load.until(moreAnswers('ok', 20, 0), 'successes before the stop');
        await cluster.stop();
        await load.until(moreAnswers('unavailable', 10, 0), '503s while PostgreSQL is stopped');
        expect(await healthStatus(api)).toBe(503);
        const ready = await fetch(`http://127.0.0.1:${api.port}/ready`, { signal: AbortSignal.timeout(10_000) });
        expect(ready.status).toBe(503);

        await cluster.start();
        await untilHealth(api, 200);
        await load.until(moreAnswers('ok', 20, load.answers.length), 'successes after PostgreSQL is back', 60_000);
      } finally {
        await load.stop();
      }

      expect(api.child.exitCode).toBeNull();
      expect((await fetch(`http://127.0.0.1:${api.port}/ready`)).status).toBe(200);
      await expectHonestAndComplete(load, ownerUrl, tenantId, conversationLocalId);
      api.child.kill('SIGTERM');
      expect(await exited(api.child)).toBe(0);
    },
  );

  // CI's PgBouncer run (see .ci/run): PgBouncer dropping every connection of the database, clients' and servers',
  // is what a PgBouncer restart looks like from the API. `KILL db` does that; new connections wait until `RESUME db`.
  it.skipIf(!process.env.TEST_PGBOUNCER_URL)('rides out PgBouncer dropping all its connections under load', { timeout: 120_000 }, async () => {
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const api = await startApi(database.ownerUrl, database.appUrl);
    cleanups.push(async () => void api.child.kill('SIGKILL'));
    const { tenantId, conversationLocalId, target } = await loadTargetIn(database.ownerUrl, api);
    const name = new URL(database.ownerUrl).pathname.slice(1);
    const admin = new URL(process.env.TEST_PGBOUNCER_URL!);
    admin.username = 'postgres';
    admin.pathname = '/pgbouncer';
    const bouncerAdmin = await connectClient({ connectionString: admin.toString() });

    const load = startMixedLoad(target, { tag: 'pgbouncer' });
    try {
      await load.until(moreAnswers('ok', 20, 0), 'successes before PgBouncer drops its connections');
      await bouncerAdmin.query(`KILL "${name}"`);
      await load.until(moreAnswers('unavailable', 5, 0), '503s while PgBouncer holds new connections');
      await bouncerAdmin.query(`RESUME "${name}"`);
      await load.until(moreAnswers('ok', 20, load.answers.length), 'successes after RESUME', 60_000);
    } finally {
      await bouncerAdmin.end();
      await load.stop();
    }
    expect(api.child.exitCode).toBeNull();
    expect(await healthStatus(api)).toBe(200);
    await expectHonestAndComplete(load, database.ownerUrl, tenantId, conversationLocalId);
  });
});
