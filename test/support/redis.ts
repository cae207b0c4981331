import { randomBytes } from 'node:crypto';
import { createClient } from '@redis/client';

/** The Redis the Redis tests use: TEST_REDIS_URL, or the one this machine kind runs on 127.0.0.1:6379. */
export const REDIS_TEST_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether that Redis answers PING within a second (tests that need it skip, saying so, when it does not). */
export async function redisAnswers(url = REDIS_TEST_URL): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A channel name of this test run alone, so test files running at once do not wake each other's servers. */
export function uniqueRedisChannel(): string {
  return `tenantgraph_test_${randomBytes(6).toString('hex')}`;
}

const connect = () => createClient({ url: REDIS_TEST_URL });
export type TestRedisClient = ReturnType<typeof connect>;

/** Runs `work` on a separate connection to the test Redis (the operator's view: CLIENT LIST, CLIENT KILL, PSUBSCRIBE). */
export async function withRedis<T>(work: (client: TestRedisClient) => Promise<T>): Promise<T> {
  const client = connect();
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

/** The ids of the connections named `name` (CLIENT LIST). */
export function redisConnectionIds(name: string): Promise<string[]> {
  return withRedis(async (client) => idsNamed(client, name));
}

/**
 * Kills the connections named `name`, as an operator (or a failover) would, and returns their ids.
 * CLIENT KILL has no name filter: the ids come from CLIENT LIST.
 */
export function killRedisConnectionsNamed(name: string): Promise<string[]> {
  return withRedis(async (client) => {
    const ids = await idsNamed(client, name);
    for (const id of ids) await client.sendCommand(['CLIENT', 'KILL', 'ID', id]);
    return ids;
  });
}

async function idsNamed(client: TestRedisClient, name: string): Promise<string[]> {
  const list = await client.sendCommand(['CLIENT', 'LIST']);
  return String(list)
    .split('\n')
    .filter((line) => line.split(' ').includes(`name=${name}`))
    .map((line) => /(?:^| )id=(\d+)/.exec(line)![1]!);
}
