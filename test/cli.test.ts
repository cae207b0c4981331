import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ViewerDocument } from '../src/__generated__/sdk/graphql.js';
import { runCli, runCliInProcess } from './support/processes.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './support/server.js';
import { createTestTenant } from './support/tenants.js';

/** The CLI's commands run in this process, against the test database, signing with the test server's secret. */
const databaseEnv = () => ({ DATABASE_URL: inject('ownerUrl'), DATABASE_URL_APP: inject('appUrl'), JWT_SECRET: TEST_JWT_SECRET });
const cli = (...args: string[]) => runCliInProcess(args, databaseEnv());
/**
 * The CLI as an operator runs it: a child process (`node --import tsx src/cli/main.ts`). Only the tests of what a
 * process adds (exit status, stdout apart from stderr) pay for one.
 */
const spawnCli = (...args: string[]) => runCli(args, databaseEnv());

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const unique = () => `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

async function viewer(token: string) {
  const response = await server.client(token).request(ViewerDocument);
  expect(response.errors).toBeUndefined();
  return response.data!.viewer;
}

describe('cli tenant create', () => {
  it('prints one JSON line whose token the server accepts for the new tenant and its admin (a real process)', async () => {
    const email = `founder-${unique()}@example.test`;
    const result = await spawnCli('tenant', 'create', '--name', 'Founded By CLI', '--admin-email', email, '--admin-name', 'Fay Founder');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const created = JSON.parse(lines[0]!);
    expect(Object.keys(created)).toEqual(['tenant', 'user', 'token']);
    expect(created.tenant).toEqual({ id: expect.stringMatching(/^[1-9][0-9]*$/), name: 'Founded By CLI' });
    expect(created.user).toEqual({ id: expect.any(String), email });

    const claims = decodeJwt(created.token);
    expect(claims.tenant_id).toBe(created.tenant.id);
    expect(claims.sub).toBe(created.user.id);
    expect(await viewer(created.token)).toMatchObject({
      user: { email, displayName: 'Fay Founder', role: 'ADMIN' },
      tenant: { name: 'Founded By CLI' },
    });
  });

  it('keeps a tenant id above 2^53 exact from the command line to the API', async () => {
    // The decoy is where a lossy JavaScript number would land: 9007199254740993 rounds to 9007199254740992.
    await createTestTenant({ id: '9007199254740992', name: 'Decoy 2^53' });
    const result = await cli('tenant', 'create', '--id', '9007199254740993', '--name', 'Exactly 2^53 + 1', '--admin-email', 'big@example.test');
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('"tenant":{"id":"9007199254740993","name":"Exactly 2^53 + 1"}');
    const created = JSON.parse(result.stdout);
    expect(decodeJwt(created.token).tenant_id).toBe('9007199254740993');
    expect((await viewer(created.token)).tenant.name).toBe('Exactly 2^53 + 1');

    const token = await cli('token', '--tenant', '9007199254740993', '--email', 'big@example.test');
    expect(token.status).toBe(0);
    expect((await viewer(token.stdout.trim())).tenant.name).toBe('Exactly 2^53 + 1');
  });

  it('fails with status 1 and a message when the id is taken', async () => {
    const tenant = await createTestTenant();
    const result = await cli('tenant', 'create', '--id', tenant.id, '--name', 'Copycat', '--admin-email', `copy-${unique()}@example.test`);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`Tenant id ${tenant.id} is already taken`);
  });
});

describe('cli token', () => {
  it('prints only a JWT for a member found by email or by user id, which the server accepts', async () => {
    const tenant = await createTestTenant();
    const member = await tenant.addUser('MEMBER');
    const byEmail = await cli('token', '--tenant', tenant.id, '--email', member.email.toUpperCase(), '--ttl', '10m');
    const byId = await cli('token', '--tenant', tenant.id, '--user', member.id);
    for (const result of [byEmail, byId]) {
      expect(result.status).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      const token = result.stdout.trim();
      expect(decodeJwt(token)).toMatchObject({ tenant_id: tenant.id, sub: member.id });
      expect(await viewer(token)).toMatchObject({
        user: { id: expect.any(String), email: member.email, role: 'MEMBER' },
        tenant: { name: tenant.name },
      });
    }
    const claims = decodeJwt(byEmail.stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(600);
  });

  it('takes the global ids the API shows (viewer.tenant.id, User.id) for --tenant and --user, and refuses one of the wrong type', async () => {
    const tenant = await createTestTenant();
    const member = await tenant.addUser('MEMBER');
    const shown = await viewer(member.token);
    expect(Buffer.from(shown.tenant.id, 'base64url').toString()).toBe(`Tenant:${tenant.id}`);
    expect(Buffer.from(shown.user.id, 'base64url').toString()).toBe(`User:${member.id}`);
    const result = await cli('token', '--tenant', shown.tenant.id, '--user', shown.user.id);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(decodeJwt(result.stdout.trim())).toMatchObject({ tenant_id: tenant.id, sub: member.id });
    expect((await viewer(result.stdout.trim())).user.id).toBe(shown.user.id);

    const swapped = await cli('token', '--tenant', shown.user.id, '--user', shown.tenant.id);
    expect(swapped.status).toBe(2);
    expect(swapped.stdout).toBe('');
    expect(swapped.stderr).toMatch(/^error: --tenant must be a Tenant id, received a User id/);
    const wrongUser = await cli('token', '--tenant', tenant.id, '--user', shown.tenant.id);
    expect(wrongUser.status).toBe(2);
    expect(wrongUser.stderr).toMatch(/^error: --user must be a User id, received a Tenant id/);
  });

  it('fails with status 1 and a message for a member that is not in the tenant', async () => {
    const tenant = await createTestTenant();
    const other = await createTestTenant();
    const cases = [
      ['--email', `nobody-${unique()}@example.test`],
      // SECURITY: a member of another tenant is unknown here, even though the CLI connects as the owner.
      ['--user', other.admin.id],
      ['--email', other.admin.email],
    ];
    for (const member of cases) {
      const result = await cli('token', '--tenant', tenant.id, ...member);
      expect(result.status).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`No member with`);
      expect(result.stderr).toContain(`in tenant ${tenant.id}`);
    }
  });
});

describe('cli arguments', () => {
  it.concurrent.each([
    ['no command', []],
    ['an unknown command', ['frobnicate']],
    ['an unknown option', ['token', '--tenant', '1', '--email', 'a@b.test', '--bogus']],
    ['a missing required option', ['tenant', 'create', '--name', 'No Email']],
    ['a missing sub-command', ['tenant', '--name', 'X', '--admin-email', 'x@example.test']],
    ['a tenant id that is not a positive integer', ['token', '--tenant', '12abc', '--email', 'a@b.test']],
    ['both --user and --email', ['token', '--tenant', '1', '--user', '00000000-0000-4000-8000-000000000000', '--email', 'a@b.test']],
    ['a user id that is not a UUID', ['token', '--tenant', '1', '--user', '42']],
    ['a malformed ttl', ['token', '--tenant', '1', '--email', 'a@b.test', '--ttl', 'forever']],
    ['a malformed email', ['tenant', 'create', '--name', 'X', '--admin-email', 'not-an-email']],
  ])('prints the usage on stderr and exits 2 for %s', async (_case, args) => {
    const result = await cli(...args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: .+\nUsage: npm run -s cli -- <command>\n/);
  });

  it('exits 2 with the usage on stderr only, as a real process', async () => {
    const result = await spawnCli('token', '--tenant', '12abc', '--email', 'a@b.test');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: --tenant must .+\nUsage: npm run -s cli -- <command>\n/);
  });

  it('reports a broken configuration with status 1 (a real process)', async () => {
    const result = await runCli(['migrate'], { DATABASE_URL: inject('ownerUrl'), JWT_SECRET: 'short' });
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('DATABASE_URL_APP');
    expect(result.stderr).toContain('JWT_SECRET: must be at least 32 characters');
  });
});
