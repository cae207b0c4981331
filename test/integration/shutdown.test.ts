import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, inject, it, vi } from 'vitest';
import { CreateConversationDocument, PostMessageDocument } from '../../src/__generated__/sdk/graphql.js';
import { createClient } from '../../src/sdk/client.js';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { startTestServer, TEST_JWT_SECRET } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * A slow mutation on demand: the owner locks a conversation row (SELECT … FOR UPDATE in an open transaction), so
 * postMessage's trigger, which updates that row, waits until the owner lets go.
 */
class ConversationLock {
  private constructor(private readonly client: pg.Client) {}

  static async take(tenantId: string, conversationId: string): Promise<ConversationLock> {
    const client = new pg.Client({ connectionString: inject('ownerUrl'), application_name: 'tenantgraph-test-lock' });
    await client.connect();
    await client.query('begin');
    await client.query('select 1 from conversations where tenant_id = $1 and id = $2 for update', [tenantId, conversationId]);
    return new ConversationLock(client);
  }

  /** Resolves once some backend waits for this lock (the mutation is in flight and stuck on it). */
  async waitForWaiter(): Promise<void> {
    // PostgreSQL announces no lock wait, so its state is polled.
    await vi.waitFor(
      async () => {
        const { rows } = await this.client.query<{ n: number }>(
          'select count(*)::int as n from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))',
        );
        if (rows[0]!.n === 0) throw new Error('no statement started waiting for the conversation lock');
      },
      { timeout: 5_000, interval: 25 },
    );
  }

  async release(): Promise<void> {
    await this.client.query('rollback');
    await this.client.end();
  }
}

/** What the owner sees of the conversation: the ground truth, whatever the API answered. */
async function storedState(tenantId: string, conversationId: string, body: string) {
  const client = new pg.Client({ connectionString: inject('ownerUrl') });
  await client.connect();
  try {
    const messages = await client.query('select 1 from messages where tenant_id = $1 and conversation_id = $2 and body = $3', [
      tenantId,
      conversationId,
      body,
    ]);
    const conversation = await client.query<{ message_count: number }>('select message_count from conversations where tenant_id = $1 and id = $2', [
      tenantId,
      conversationId,
    ]);
    return { messages: messages.rowCount, messageCount: conversation.rows[0]!.message_count };
  } finally {
    await client.end();
  }
}

async function conversationOf(url: string, tenant: TestTenant) {
  const created = await createClient({ url, token: tenant.admin.token }).request(CreateConversationDocument, { input: { title: 'Shutdown' } });
  const id = created.data!.createConversation.conversation.id;
  return { id, localId: decodeGlobalId(id, 'Conversation').localId };
}

async function get(port: number, pathname: string) {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, json: await response.json() };
}

describe('RunningServer.close()', () => {
  it('lets a mutation in flight finish and commit while /ready answers 503 and new requests are refused', async () => {
    const server = await startTestServer({ shutdownTimeoutMs: 10_000 });
    const tenant = await createTestTenant();
    const conversation = await conversationOf(server.url, tenant);
    const lock = await ConversationLock.take(tenant.id, conversation.localId);
    let released = false;
    try {
      const body = 'written while the server drains';
      const posting = server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId: conversation.id, body } });
      await lock.waitForWaiter();

      const closing = server.close();
      expect(await get(server.port, '/ready')).toEqual({ status: 503, json: { status: 'draining' } });
      const refused = await server.post({ query: '{ viewer { user { id } } }' }, { authorization: `Bearer ${tenant.admin.token}` });
      expect(refused.status).toBe(503);
      expect(refused.json.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');

      await lock.release();
      released = true;
      const posted = await posting;
      expect(posted.errors).toBeUndefined();
      expect(posted.data?.postMessage.message.body).toBe(body);
      await closing;

      expect(server.database.pool.ended).toBe(true);
      expect(await storedState(tenant.id, conversation.localId, body)).toEqual({ messages: 1, messageCount: 1 });
    } finally {
      if (!released) await lock.release();
      await server.close();
    }
  });

  it('rolls back a mutation still running at the deadline: nothing of it is saved, and its response says it failed', async () => {
    const server = await startTestServer({ shutdownTimeoutMs: 300 });
    const tenant = await createTestTenant();
    const conversation = await conversationOf(server.url, tenant);
    const lock = await ConversationLock.take(tenant.id, conversation.localId);
    try {
      const body = 'never saved: the deadline passed';
      const posting = server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId: conversation.id, body } });
      await lock.waitForWaiter();

      // The lock is still held: close() must not wait for it beyond the deadline and its bounded forced steps.
      const startedAt = performance.now();
      await server.close();
      expect(performance.now() - startedAt).toBeLessThan(5_000);
      expect(server.database.pool.ended).toBe(true);

      const posted = await posting;
      expect(posted.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      expect(posted.errors?.[0]?.message).toMatch(/rolled back; nothing was saved/);
      expect(posted.data?.postMessage ?? null).toBeNull();
      expect(await storedState(tenant.id, conversation.localId, body)).toEqual({ messages: 0, messageCount: 0 });
    } finally {
      await lock.release();
    }
    const tenantAfter = await storedState(tenant.id, conversation.localId, 'never saved: the deadline passed');
    expect(tenantAfter).toEqual({ messages: 0, messageCount: 0 });
  });
});

describe('npm start on SIGTERM', () => {
  it('finishes the mutation in flight, commits it, and exits 0', { timeout: 60_000 }, async () => {
    const tenant = await createTestTenant();
    const child = spawnMain({
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: inject('ownerUrl'),
      DATABASE_URL_APP: inject('appUrl'),
      JWT_SECRET: TEST_JWT_SECRET,
      SEED_DEMO_DATA: 'false',
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    let lock: ConversationLock | undefined;
    try {
      const port = await listeningPort(child);
      const url = `http://127.0.0.1:${port}/graphql`;
      const conversation = await conversationOf(url, tenant);
      lock = await ConversationLock.take(tenant.id, conversation.localId);
      const body = 'committed by a process on its way out';
      const posting = createClient({ url, token: tenant.admin.token }).request(PostMessageDocument, {
        input: { conversationId: conversation.id, body },
      });
      await lock.waitForWaiter();

      child.kill('SIGTERM');
      await expect.poll(async () => (await get(port, '/ready')).status).toBe(503);
      await lock.release();
      lock = undefined;

      expect((await posting).errors).toBeUndefined();
      expect(await exit).toBe(0);
      expect(await storedState(tenant.id, conversation.localId, body)).toEqual({ messages: 1, messageCount: 1 });
    } finally {
      await lock?.release();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `node --import tsx src/main.ts`, what `npm start` execs, with only PATH/HOME and `env` in its environment. */
function spawnMain(env: Record<string, string>): ChildProcess {
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR'].flatMap((key) => (process.env[key] ? [[key, process.env[key]!]] : [])));
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPOSITORY_ROOT, env: { ...inherited, ...env }, stdio: 'pipe' });
}

/** The port from main.ts' "Tenantgraph is running: http://host:PORT/graphql" line. */
function listeningPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`no listening line in 30 s.\nstdout:\n${stdout}\nstderr:\n${stderr}`)), 30_000);
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /Tenantgraph is running: http:\/\/[^:]+:(\d+)\//.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before listening.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    });
  });
}
