import { afterAll, describe, expect, it } from 'vitest';
import { createTenant } from '../../src/admin/tenants.js';
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
});
