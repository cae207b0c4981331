import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

// A request's prologue goes out with its first data statement (src/db/pipelined-prologue.ts). Refused there, the
// request gets the error a prologue sent on its own gives (`viewer` still sends it on its own: it needs the row),
// and the pool's only connection serves the next request clean, in that request's tenant.

const PAGE = '{ conversations(first: 5) { nodes { title } } }';
const VIEWER = '{ viewer { user { id } } }';

/** Errors without `path` (a field error of `conversations` or `viewer`): what the client is told. */
function told(json: { errors?: { message: string; extensions?: unknown }[] }) {
  return (json.errors ?? []).map(({ message, extensions }) => ({ message, extensions }));
}

describe('a request whose pipelined prologue is refused (pool of one connection)', () => {
  let server: TestServer;
  let mine: TestTenant;
  let other: TestTenant;
  beforeAll(async () => {
    server = await startTestServer({ pool: { max: 1, acquireTimeoutMs: 3000 } });
    [mine, other] = await Promise.all([createTestTenant(), createTestTenant()]);
    for (const tenant of [mine, other]) {
      await withOwnerTransaction(inject('ownerUrl'), async (client) => {
        await enterTenant(client, tenant.id);
        await client.query('insert into conversations (title, created_by) values ($1, $2)', [`of ${tenant.id}`, tenant.admin.id]);
      });
    }
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (token: string, query: string) => server.post({ query }, { authorization: `Bearer ${token}` });

  async function expectServedInOwnTenant(tenant: TestTenant) {
    server.roundTrips.length = 0;
    const served = await post(tenant.admin.token, PAGE);
    expect(served.status).toBe(200);
    expect(served.json.errors).toBeUndefined();
    expect(served.json.data.conversations.nodes).toEqual([{ title: `of ${tenant.id}` }]);
    expect(server.roundTrips.filter((texts) => !/enter_tenant\('\d+',null,/.test(texts[0]!))).toEqual([
      [expect.stringMatching(new RegExp(`^start transaction read only;select \\* from app\\.enter_tenant\\('${tenant.id}',`)), expect.any(String)],
      ['commit'],
    ]);
  }

  it('answers a user who is not a member with the 401 of a prologue sent alone; the next request sees its own tenant', async () => {
    const stranger = await tokenFor(other.id, mine.admin.id);
    const alone = await post(stranger, VIEWER);
    server.roundTrips.length = 0;
    const pipelined = await post(stranger, PAGE);
    expect(pipelined.status).toBe(401);
    expect(told(pipelined.json)).toEqual(told(alone.json));
    expect(told(pipelined.json)).toEqual([
      { message: "The token's user is not a member of its tenant.", extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) },
    ]);
    expect(pipelined.json.data ?? null).toBeNull();
    // The page statement went out with the prologue and was skipped by the server; ROLLBACK cleaned the connection.
    expect(server.roundTrips.filter((texts) => !/enter_tenant\('\d+',null,/.test(texts[0]!))).toEqual([
      [
        expect.stringMatching(/^start transaction read only;select \* from app\.enter_tenant\(/),
        expect.stringMatching(/^select \* from "conversations"/),
      ],
      ['rollback'],
    ]);
    await expectServedInOwnTenant(mine);
    await expectServedInOwnTenant(other);
  });

  it('answers a suspended tenant with the 403 of a prologue sent alone; its statement never ran; the next request is served', async () => {
    const suspended = await createTestTenant();
    const created = await post(suspended.admin.token, 'mutation { createConversation(input: { title: "before" }) { conversation { id } } }');
    const id = created.json.data.createConversation.conversation.id as string;
    await withOwnerTransaction(inject('ownerUrl'), async (client) => {
      await client.query(`update tenants set suspended_at = now(), suspension_reason = 'test' where id = $1`, [suspended.id]);
    });
    const alone = await post(suspended.admin.token, VIEWER);
    // The rename's UPDATE is its first statement, so it goes out with the prologue.
    const pipelined = await post(
      suspended.admin.token,
      `mutation { renameConversation(input: { id: "${id}", title: "while suspended" }) { conversation { id } } }`,
    );
    const read = await post(suspended.admin.token, PAGE);
    for (const refused of [pipelined, read]) {
      expect(refused.status).toBe(403);
      expect(told(refused.json)).toEqual(told(alone.json));
      expect(told(refused.json)[0]?.extensions).toMatchObject({ code: 'TENANT_SUSPENDED' });
    }
    const written = await withOwnerTransaction(inject('ownerUrl'), async (client) => {
      return (await client.query('select title from conversations where tenant_id = $1', [suspended.id])).rows;
    });
    expect(written).toEqual([{ title: 'before' }]);
    await expectServedInOwnTenant(mine);
  });
});
