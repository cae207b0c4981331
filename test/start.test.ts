import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostMessageDocument } from '../src/__generated__/sdk/graphql.js';
import { createClient } from '../src/sdk/client.js';
import { exited, freePort, runCli, spawnServer, waitForOutput, isAlive, postmasterPidOf } from './support/processes.js';

/**
 * `npm start` end to end (`exec node --import tsx src/main.ts`): a fresh DATA_DIR, the embedded PostgreSQL,
 * migrations, demo data, the printed URL and headers, a clean SIGTERM, and a restart that keeps the data.
 */

const START_TIMEOUT_MS = 90_000;

let dataDir: string;
let env: Record<string, string>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-start-'));
  // As root, PostgreSQL runs as the `postgres` OS user, which must reach the data directory.
  await chmod(dataDir, 0o755);
  env = {
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    EMBEDDED_PG_PORT: String(await freePort()),
  };
});

afterAll(async () => {
  // Only after a failure is anything still running: never leave a server or its PostgreSQL behind.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  const postmaster = await postmasterPid();
  if (postmaster && isAlive(postmaster)) process.kill(postmaster, 'SIGINT');
  // The postmaster is no child of this process: no exit event reaches it, so its pid is polled (5 s at most, as
  // before; what is left then is removed with its directory anyway).
  if (postmaster) await vi.waitFor(() => expect(isAlive(postmaster)).toBe(false), { timeout: 5_000, interval: 50 }).catch(() => {});
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}, 30_000);

interface Started {
  child: ChildProcess;
  url: string;
  /** Tenant id → its admin's email and the printed `Authorization` header value. */
  headers: Map<string, { email: string; authorization: string }>;
}

/** Starts the server and waits for the URL and every demo header (the output ends with an empty line). */
async function start(): Promise<Started> {
  const child = spawnServer(env);
  children.push(child);
  const output = await waitForOutput(child, (text) => /Bearer [^"]+"\}\n\n$/.test(text), START_TIMEOUT_MS);
  const url = /Tenantgraph is running: (\S+)/.exec(output)?.[1];
  const headers: Started['headers'] = new Map();
  for (const match of output.matchAll(/\(tenant (\d+), ([^)]+)\):\n\s*(\{"Authorization": "Bearer [^"]+"\})/g)) {
    headers.set(match[1]!, { email: match[2]!, authorization: (JSON.parse(match[3]!) as { Authorization: string }).Authorization });
  }
  expect(url).toBe(`http://127.0.0.1:${env.PORT}/graphql`);
  // The banner names both explorers (development serves them).
  expect(output).toContain(`Apollo Sandbox:   http://127.0.0.1:${env.PORT}/graphql`);
  expect(output).toContain(`Offline explorer: http://127.0.0.1:${env.PORT}/graphiql`);
  return { child, url: url!, headers };
}

const postmasterPid = () => postmasterPidOf(dataDir);

/** SIGTERM, then the exit status within 10 s (or 'timeout'). */
async function terminate(child: ChildProcess): Promise<number | string> {
  child.kill('SIGTERM');
  return Promise.race([exited(child), new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 10_000))]);
}

/** A raw GraphQL POST, for queries that are not among the SDK's operations. */
async function query(url: string, authorization: string, text: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query: text, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

describe('npm start (src/main.ts)', () => {
  let firstRun: { tenants: string[]; tenantName: string; conversationId: string; body: string; authorization: string };

  it('starts an embedded PostgreSQL, seeds demo tenants, serves them and stops cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const server = await start();
    expect(server.headers.size).toBeGreaterThanOrEqual(3);
    const [tenantId, { email, authorization }] = [...server.headers][0]!;

    const overview = await query(server.url, authorization, '{ viewer { tenant { name } } conversations { totalCount } }');
    expect(overview.errors).toBeUndefined();
    expect(overview.data.viewer.tenant.name).toEqual(expect.any(String));
    expect(overview.data.conversations.totalCount).toBeGreaterThan(0);

    const list = await query(server.url, authorization, '{ conversations(first: 1) { nodes { id } } }');
    const conversationId: string = list.data.conversations.nodes[0].id;
    const api = createClient({ url: server.url, headers: { authorization } });
    const body = `posted by start.test at ${new Date().toISOString()}`;
    const posted = await api.request(PostMessageDocument, { input: { conversationId, body } });
    expect(posted.errors).toBeUndefined();
    expect(posted.data?.postMessage.message.body).toBe(body);

    const health = await fetch(new URL('/health', server.url));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    // The CLI reuses the PostgreSQL the running server started, and leaves it running.
    const postmaster = await postmasterPid();
    expect(postmaster).not.toBeNull();
    const token = await runCli(['token', '--tenant', tenantId, '--email', email], env);
    expect(token.stderr).toBe('');
    expect(token.status).toBe(0);
    expect(await postmasterPid()).toBe(postmaster);
    expect((await fetch(new URL('/health', server.url))).status).toBe(200);
    const viaCliToken = await query(server.url, `Bearer ${token.stdout.trim()}`, '{ viewer { user { email } } }');
    expect(viaCliToken.data?.viewer.user.email).toBe(email);
    // `sql` gives the operator role its login on first use; two at once must not collide ("tuple concurrently
    // updated"), and each sees its own tenant only.
    const tenants = [...server.headers.keys()].slice(0, 2);
    const statement = 'select count(distinct tenant_id) as tenants, min(tenant_id) as tenant from conversations';
    const sessions = await Promise.all(tenants.map((id) => runCli(['sql', '--tenant', id, '-c', statement], env)));
    for (const [index, session] of sessions.entries()) {
      expect(session.status, session.stderr).toBe(0);
      expect(JSON.parse(session.stdout)).toEqual({ tenants: '1', tenant: tenants[index] });
    }

    expect(await terminate(server.child)).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid')) && isAlive(postmaster!)).toBe(false);

    firstRun = { tenants: [...server.headers.keys()].sort(), tenantName: overview.data.viewer.tenant.name, conversationId, body, authorization };
  });

  it('keeps the data and does not seed again when started on the same DATA_DIR', { timeout: 120_000 }, async () => {
    expect(firstRun).toBeDefined();
    const server = await start();
    expect([...server.headers.keys()].sort()).toEqual(firstRun.tenants);

    // The development JWT secret is kept in DATA_DIR too, so the first run's header still works.
    const messages = await query(
      server.url,
      firstRun.authorization,
      'query ($id: ID!) { viewer { tenant { name } } conversation(id: $id) { messages(first: 1) { nodes { body } } } }',
      { id: firstRun.conversationId },
    );
    expect(messages.errors).toBeUndefined();
    expect(messages.data.viewer.tenant.name).toBe(firstRun.tenantName);
    expect(messages.data.conversation.messages.nodes[0].body).toBe(firstRun.body);

    const postmaster = await postmasterPid();
    expect(await terminate(server.child)).toBe(0);
    expect(isAlive(postmaster!)).toBe(false);
  });

  it('refuses to start in production without real secrets and database URLs, naming every missing variable', async () => {
    const child = spawnServer({ NODE_ENV: 'production', DATA_DIR: dataDir, PORT: env.PORT! });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const status = await exited(child);
    expect(status).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^Invalid configuration:\n/);
    for (const variable of ['DATABASE_URL', 'DATABASE_URL_APP', 'JWT_SECRET']) expect(stderr).toContain(`${variable}:`);
    expect(stderr.trim().split('\n')).toHaveLength(4);
  });
});
