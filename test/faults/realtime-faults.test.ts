import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../scripts/lib/scratch-database.js';
import { createTenant } from '../../src/admin/tenants.js';
import { exited, freePort, spawnServer, waitForOutput } from '../support/processes.js';
import { TEST_JWT_SECRET } from '../support/server.js';
import { startPrivateCluster } from './support/private-cluster.js';
import { bearer, createConversation, eventually, MESSAGE_POSTED, openSocket, postMessage } from '../support/realtime-client.js';
import { startTestServer } from '../support/server.js';
import { tokenFor } from '../support/tenants.js';

/**
 * Realtime under a PostgreSQL restart (a cluster of its own, stopped and started again under two running API
 * servers) and under a server that goes away: no event a client is entitled to is lost, because events are read
 * from the table by position and clients resume with their cursor.
 */
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}, 60_000);

describe('realtime under faults', () => {
  it('delivers every event, those around a PostgreSQL restart included, and resumes on another server by cursor', { timeout: 120_000 }, async () => {
    const cluster = await startPrivateCluster(cleanups, 'realtime', 'fa0fa0fa0f');
    const { ownerUrl, appUrl } = cluster;
    const options = { appUrl, realtime: { listenUrl: appUrl, pollIntervalMs: 300 } };
    const [first, second] = await Promise.all([startTestServer(options), startTestServer(options)]);
    cleanups.push(() => second.close());
    const provisioned = await createTenant(ownerUrl, { name: 'Realtime faults', adminEmail: 'ada@rt-faults.test' });
    const token = await tokenFor(provisioned.tenant.id, provisioned.user.id);
    const room = await createConversation(first, token, 'restart');

    const ws = openSocket(first, bearer(token));
    const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
    await eventually(() => first.realtime.subscriptionsOf(provisioned.tenant.id) > 0, 'the subscription');
    const posted = [await postMessage(second, token, room, 'before the stop')];
    await sub.waitFor(1);

    // Written, then PostgreSQL goes away before any batch could deliver it... or right after: either way it must arrive.
    posted.push(await postMessage(second, token, room, 'just before the stop'));
    await cluster.stop();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await cluster.start();
    await eventually(
      async () => {
        try {
          posted.push(await postMessage(second, token, room, 'after the restart'));
          return true;
        } catch {
          return false;
        }
      },
      'a write after the restart',
      30_000,
    );
    const received = await sub.waitFor(posted.length, 30_000);
    expect(received.map((e) => e.messagePosted.message.id)).toEqual(posted);

    // The subscriber's server goes away; the client resumes on the other one with its last cursor.
    const last = received[received.length - 1].messagePosted.cursor;
    await first.close();
    expect((await ws.closed).code).toBe(1001);
    const missed = [await postMessage(second, token, room, 'while reconnecting'), await postMessage(second, token, room, 'still reconnecting')];
    const again = openSocket(second, bearer(token));
    const resumed = again.subscribe(MESSAGE_POSTED, { id: room, after: last });
    posted.push(...missed, await postMessage(second, token, room, 'live again'));
    const more = await resumed.waitFor(3, 10_000);
    expect(more.map((e) => e.messagePosted.message.id)).toEqual(posted.slice(-3));
    await again.close();
  });

  it(
    'a killed API process (SIGKILL, no goodbye): its client resumes by cursor on another server and misses nothing',
    { timeout: 120_000 },
    async () => {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      const port = await freePort();
      const child = spawnServer({
        NODE_ENV: 'development',
        DATABASE_URL: database.ownerUrl,
        DATABASE_URL_APP: database.appUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        SEED_DEMO_DATA: 'false',
        PORT: String(port),
        HOST: '127.0.0.1',
        // No LISTEN connection for this process: its subscribers learn of the other server's writes by polling.
        REALTIME_POLL_INTERVAL_MS: '200',
      });
      cleanups.push(async () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
      await waitForOutput(child, (text) => text.includes('Tenantgraph is running'), 60_000);
      const other = await startTestServer({ appUrl: database.appUrl, realtime: { listenUrl: null, pollIntervalMs: 200 } });
      cleanups.push(() => other.close());
      const provisioned = await createTenant(database.ownerUrl, { name: 'Killed server', adminEmail: 'ada@rt-kill.test' });
      const token = await tokenFor(provisioned.tenant.id, provisioned.user.id);
      const room = await createConversation(other, token, 'kill');

      const ws = openSocket({ url: `http://127.0.0.1:${port}/graphql` }, bearer(token));
      const sub = ws.subscribe(MESSAGE_POSTED, { id: room });
      // The subscription starts at the stream's head once its start transaction ran: post until one arrives.
      const posted: string[] = [];
      await eventually(async () => {
        posted.push(await postMessage(other, token, room, 'before the kill'));
        await new Promise((resolve) => setTimeout(resolve, 300));
        return sub.data.length > 0;
      }, 'a first delivery by the process to be killed');
      const first = posted.indexOf(sub.data[0].messagePosted.message.id);
      await sub.waitFor(posted.length - first, 10_000);
      const last = sub.data.at(-1).messagePosted.cursor;

      child.kill('SIGKILL');
      expect(await exited(child)).toBe('SIGKILL');
      // No close frame from a killed process: the client sees the TCP connection end (1006, abnormal closure).
      expect((await ws.closed).code).toBe(1006);
      const missed = [await postMessage(other, token, room, 'while it was dead'), await postMessage(other, token, room, 'still dead')];
      const again = openSocket(other, bearer(token));
      const resumed = again.subscribe(MESSAGE_POSTED, { id: room, after: last });
      await eventually(() => other.realtime.subscriptionsOf(provisioned.tenant.id) > 0, 'the resumed subscription');
      const live = await postMessage(other, token, room, 'live again');
      const more = await resumed.waitFor(3, 10_000);
      expect(more.map((e) => e.messagePosted.message.id)).toEqual([...missed, live]);
      await again.close();
    },
  );
});
