import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../../src/auth/token-issuer.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../../test/support/server.js';
import { listBenchTenants, loadTenants } from '../lib/dataset.js';
import { toApiShape } from '../lib/postgraphile-documents.js';
import { ServerProcess, type ServerConfig } from '../lib/servers.js';
import { verifyIsolation } from '../lib/verify.js';
import { buildRequest, toTarget, type Operation, type TenantTarget } from '../lib/workloads.js';

// The bench's peer (bench/postgraphile-server.ts) on a small seeded database of its own: it must answer the
// workloads' documents with the API's data and see nothing of other tenants, or its figures mean nothing. The
// server runs as the bench runs it, in a process of its own, so this also keeps the launcher (Node 20 polyfill,
// pgSettings, presets) from rotting.

let database: TestDatabase;
let api: TestServer;
let peer: ServerProcess;
let probes: TenantTarget[];
const logDir = mkdtempSync(path.join(os.tmpdir(), 'tenantgraph-postgraphile-test-'));
const started: ServerProcess[] = [];

function peerConfig(appUrl: string): ServerConfig {
  return { appUrl, jwtSecret: TEST_JWT_SECRET, poolMax: 2, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000 };
}

async function startPeer(appUrl: string, log: string): Promise<ServerProcess> {
  const server = await ServerProcess.start('postgraphile', peerConfig(appUrl), path.join(logDir, log));
  started.push(server);
  return server;
}

beforeAll(async () => {
  database = await createTestDatabase();
  await loadTenants(database.ownerUrl, { kind: 'zipf', tenants: 6, messages: 600, exponent: 1 });
  const tenants = await listBenchTenants(database.ownerUrl);
  probes = await Promise.all(
    [tenants[0]!, tenants[2]!, tenants.at(-1)!].map(async (tenant) =>
      toTarget(tenant, await issueToken({ secret: TEST_JWT_SECRET, tenantId: tenant.tenantId, userId: tenant.userId })),
    ),
  );
  api = await startTestServer({ appUrl: database.appUrl });
  peer = await startPeer(database.appUrl, 'postgraphile.log');
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(started.map((server) => server.stop()));
  await api?.close();
  await database?.drop();
  rmSync(logDir, { recursive: true, force: true });
});

async function ask(port: number, operation: Operation, target: 'graphql' | 'postgraphile', tenant: TenantTarget) {
  const request = buildRequest(operation, target, tenant, tenant.conversationGlobalIds[0]!, `test message for ${target}`);
  const response = await fetch(`http://127.0.0.1:${port}${request.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: request.authorization },
    body: request.body,
  });
  const json = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
  expect(json.errors, `${target} ${operation}`).toBeUndefined();
  return target === 'postgraphile' ? toApiShape(operation, json.data!) : json.data;
}

describe('PostGraphile in the bench (bench/postgraphile-server.ts)', () => {
  it('answers Q1 and Q2 with the data the API returns, for small and large tenants', async () => {
    for (const tenant of probes) {
      for (const operation of ['Q1', 'Q2'] as const) {
        const expected = await ask(api.port, operation, 'graphql', tenant);
        expect(await ask(peer.port, operation, 'postgraphile', tenant), `${operation} for tenant ${tenant.tenantId}`).toEqual(expected);
      }
    }
    const q1 = (await ask(peer.port, 'Q1', 'postgraphile', probes[0]!)) as { conversations: { nodes: { messages: { nodes: unknown[] } }[] } };
    expect(q1.conversations.nodes.length).toBeGreaterThan(0);
    expect(q1.conversations.nodes.some((c) => c.messages.nodes.length === 5)).toBe(true);
  });

  it('posts M1 as the API does: the message, its author, its conversation with the new count', async () => {
    const tenant = probes[1]!;
    const before = (await ask(api.port, 'Q2', 'graphql', tenant)) as { conversation: { messageCount: number } };
    const posted = (await ask(peer.port, 'M1', 'postgraphile', tenant)) as {
      postMessage: { message: { body: string; author: { id: string }; conversation: { id: string; messageCount: number } } };
    };
    expect(posted.postMessage.message.body).toBe('test message for postgraphile');
    expect(posted.postMessage.message.conversation).toEqual({
      id: tenant.conversationGlobalIds[0],
      messageCount: before.conversation.messageCount + 1,
    });
    const viaApi = (await ask(api.port, 'M1', 'graphql', tenant)) as { postMessage: { message: { author: unknown } } };
    expect(posted.postMessage.message.author).toEqual(viaApi.postMessage.message.author);
  });

  it('sees nothing of other tenants', async () => {
    await expect(verifyIsolation(peer.port, probes)).resolves.toBeUndefined();
  });

  it('fails the isolation check when it connects as a role that bypasses RLS (negative control)', async () => {
    const bypassing = await startPeer(database.ownerUrl, 'postgraphile-owner.log');
    await expect(verifyIsolation(bypassing.port, probes)).rejects.toThrow(/PostGraphile showed tenant/);
  });
});
