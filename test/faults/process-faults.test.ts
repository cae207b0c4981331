import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { decodeGlobalId } from '../../src/graphql/global-id.js';
import { exited, freePort, runCli, spawnServer, waitForOutput, isAlive, postmasterPidOf } from '../support/processes.js';
import { checkStoredWrites, exemptFromRateLimit, moreAnswers, startMixedLoad } from './support/mixed-load.js';

/**
 * Faults of the API process itself, as `npm start` runs it (`src/main.ts` on an embedded PostgreSQL under
 * DATA_DIR): SIGKILL under load and a restart on the same data, and SIGTERM/SIGINT at each moment of start-up.
 */

const roots: string[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const root of roots) {
    const pid = await postmasterPid(root);
    if (pid && isAlive(pid)) process.kill(pid, 'SIGINT');
    // The postmaster is no child of this process: no exit event reaches it, so its pid is polled (5 s at most, as
    // before; what is left then is removed with its directory anyway).
    if (pid) await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 5_000, interval: 50 }).catch(() => {});
    await rm(root, { recursive: true, force: true });
  }
}, 60_000);

async function freshDataDir(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-process-faults-'));
  // As root, PostgreSQL runs as the `postgres` OS user, which must reach the data directory.
  await chmod(root, 0o755);
  roots.push(root);
  return root;
}

async function envFor(dataDir: string) {
  return {
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    EMBEDDED_PG_PORT: String(await freePort()),
    LOG_LEVEL: 'info',
  };
}

const postmasterPid = postmasterPidOf;

/** Is any postgres process running on this data directory? (/proc, not postmaster.pid: a stale file lies.) */
async function postgresRunsOn(dataDir: string): Promise<boolean> {
  const target = path.join(dataDir, 'postgres');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(target)) return true;
  }
  return false;
}

/** Starts `src/main.ts` and waits for the URL and the demo headers. */
async function startServer(env: Record<string, string>) {
  const child = spawnServer(env);
  children.push(child);
  const output = await waitForOutput(child, (text) => /Bearer [^"]+"\}\n\n$/.test(text), 90_000);
  const authorization = /"Authorization": "(Bearer [^"]+)"/.exec(output)![1]!;
  const tenantId = /\(tenant (\d+),/.exec(output)![1]!;
  return { child, url: `http://127.0.0.1:${env.PORT}/graphql`, authorization, tenantId };
}

describe('npm start under process faults', () => {
  it('restarts on the same data after SIGKILL under load, with every acknowledged write stored once', { timeout: 180_000 }, async () => {
    const dataDir = await freshDataDir();
    const env = await envFor(dataDir);
    const first = await startServer(env);
    const listed = await fetch(first.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: first.authorization },
      body: JSON.stringify({ query: '{ conversations(first: 1) { nodes { id } } }' }),
    });
    const conversationId: string = ((await listed.json()) as any).data.conversations.nodes[0].id;
    const secrets = JSON.parse(await readFile(path.join(dataDir, 'secrets.json'), 'utf8')) as { postgresPassword: string };
    const ownerUrl = `postgres://postgres:${secrets.postgresPassword}@127.0.0.1:${env.EMBEDDED_PG_PORT}/tenantgraph`;
    await exemptFromRateLimit(ownerUrl, first.tenantId);

    const load = startMixedLoad({ url: first.url, authorization: first.authorization, conversationId }, { tag: 'sigkill' });
    await load.until(moreAnswers('ok', 30, 0), 'successes before the kill');
    first.child.kill('SIGKILL');
    expect(await exited(first.child)).toBe('SIGKILL');
    await load.stop();
    // Requests cut off by the kill got no answer; that is the fault itself, and none of them was acknowledged.
    const answered = load.answers.filter((answer) => answer.kind !== 'unexpected' || !answer.detail.startsWith('no answer'));
    expect(answered.filter((answer) => answer.kind === 'unexpected')).toEqual([]);

    // The orphaned postmaster is still running; the restart must take it over, not fail on postmaster.pid.
    expect(await postgresRunsOn(dataDir)).toBe(true);
    const second = await startServer(env);
    const after = await fetch(second.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: second.authorization },
      body: JSON.stringify({ query: '{ viewer { tenant { id } } }' }),
    });
    expect(after.status).toBe(200);

    const stored = await checkStoredWrites(ownerUrl, first.tenantId, decodeGlobalId(conversationId, 'Conversation').localId, load.acked);
    expect(stored.ackedMissing).toEqual([]);
    expect(stored.duplicated).toEqual([]);
    // At least: requests whose answers the killed process never sent may have committed too (nondeterministic).
    expect(stored.committedAuditEvents).toBeGreaterThanOrEqual(load.acked.length);

    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);
    expect(await postgresRunsOn(dataDir)).toBe(false);
  });

  it(
    'provisions tenants from concurrent CLI commands, with and without a running server, none failing or stopping PostgreSQL under another',
    { timeout: 180_000 },
    async () => {
      const dataDir = await freshDataDir();
      const env = await envFor(dataDir);
      const createTenants = (prefix: string, n: number) =>
        Promise.all(
          Array.from({ length: n }, (_, i) =>
            runCli(['tenant', 'create', '--name', `${prefix} ${i}`, '--admin-email', `${prefix}-${i}@concurrent.test`], {
              ...env,
              LOG_LEVEL: 'warn',
            }),
          ),
        );

      // No server: they race to create and start the embedded cluster on an empty DATA_DIR.
      const cold = await createTenants('cold', 4);
      expect(cold.map((result) => [result.status, result.stderr])).toEqual(cold.map(() => [0, '']));
      expect(await postgresRunsOn(dataDir)).toBe(false);

      const server = await startServer(env);
      const warm = await createTenants('warm', 3);
      expect(warm.map((result) => [result.status, result.stderr])).toEqual(warm.map(() => [0, '']));
      for (const result of warm) {
        const { token } = JSON.parse(result.stdout) as { token: string };
        const viewer = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ viewer { tenant { name } } }' }),
        });
        expect(viewer.status).toBe(200);
      }
      expect(await postgresRunsOn(dataDir)).toBe(true);
      server.child.kill('SIGTERM');
      expect(await exited(server.child)).toBe(0);
      expect(await postgresRunsOn(dataDir)).toBe(false);
    },
  );

  // Each moment is marked by a start-up log line; the signal lands while that step runs.
  const moments: { when: string; line: RegExp; signal: NodeJS.Signals }[] = [
    { when: 'while the embedded PostgreSQL is being created', line: /starting embedded PostgreSQL/, signal: 'SIGTERM' },
    { when: 'while migrations are applied', line: /applying migrations/, signal: 'SIGTERM' },
    { when: 'while demo data is seeded', line: /seeding demo data/, signal: 'SIGINT' },
    { when: 'right after the server started listening', line: /Tenantgraph is running/, signal: 'SIGTERM' },
  ];
  for (const moment of moments) {
    it(`stops everything it started and exits 0 on ${moment.signal} ${moment.when}`, { timeout: 90_000 }, async () => {
      const dataDir = await freshDataDir();
      const child = spawnServer(await envFor(dataDir));
      children.push(child);
      await waitForOutput(child, (text) => moment.line.test(text), 60_000);
      child.kill(moment.signal);
      expect(await exited(child)).toBe(0);
      expect(await postgresRunsOn(dataDir)).toBe(false);
      expect(existsSync(path.join(dataDir, 'postgres.lock'))).toBe(false);
    });
  }
});
