import { randomBytes } from 'node:crypto';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { CreateConversationDocument, DashboardDocument, PostMessageDocument } from '../../src/__generated__/sdk/graphql.js';
import type { Database } from '../../src/db/kysely.js';
import { UnsafeDatabaseError } from '../../src/db/safety-check.js';
import { updateConversation } from '../../src/modules/conversations/queries.js';
import { insertMessage, listMessagesByConversations } from '../../src/modules/messages/queries.js';
import { ExplicitTenantFilterPlugin, readTenantColumns } from '../lib/explicit-tenant-filter-plugin.js';
import type { TenantTransaction } from '../../src/tenancy/tenant-transaction.js';
import { dropNoRlsRole, ensureNoRlsRole, withUser } from '../lib/no-rls-role.js';
import { startNoRlsServer } from '../lib/no-rls-server.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { createTestTenant, type TestTenant } from '../../test/support/tenants.js';

// The benchmark's "API without RLS": a BYPASSRLS role plus an explicit tenant predicate in every statement.
// Roles are cluster-wide and the test database may be a shared server, so the role name is unique per run.
const role = `tenantgraph_bench_norls_${randomBytes(4).toString('hex')}`;
const password = randomBytes(16).toString('hex');
let noRlsUrl: string;
let noRls: TestServer;

beforeAll(async () => {
  const ownerUrl = inject('ownerUrl');
  await ensureNoRlsRole(ownerUrl, role, password);
  noRlsUrl = withUser(inject('appUrl'), role, password);
  noRls = await startTestServer({ appUrl: noRlsUrl }, startNoRlsServer);
});

afterAll(async () => {
  await noRls?.close();
  await dropNoRlsRole(inject('ownerUrl'), role);
});

/** A tenant with one conversation holding one message, created through `server`. */
async function tenantWithConversation(server: TestServer, title: string): Promise<{ tenant: TestTenant; conversationId: string }> {
  const tenant = await createTestTenant();
  const api = server.client(tenant.admin.token);
  const created = await api.request(CreateConversationDocument, { input: { title } });
  expect(created.errors).toBeUndefined();
  const conversationId = created.data!.createConversation.conversation.id;
  const posted = await api.request(PostMessageDocument, { input: { conversationId, body: `hello from ${title}` } });
  expect(posted.errors).toBeUndefined();
  return { tenant, conversationId };
}

/** The tenant tables a statement reads from or updates. */
function tablesOf(sql: string): string[] {
  return [...sql.matchAll(/\b(?:from|update|join) "(tenants|users|conversations|messages)"/g)].map((match) => match[1]!);
}

describe('the API without RLS (bench/lib/no-rls-server.ts)', () => {
  it('adds "<table>"."tenant_id" = <tenant> to every statement that reads a tenant table', async () => {
    const { tenant } = await tenantWithConversation(noRls, 'Explicit');
    noRls.statements.length = 0;
    const dashboard = await noRls.client(tenant.admin.token).request(DashboardDocument, { first: 20, messages: 5 });
    expect(dashboard.errors).toBeUndefined();

    const data = noRls.statements.filter((sql) => tablesOf(sql).length > 0);
    // One statement: the conversations page joined to its messages with their authors (a LATERAL serving lastMessage
    // and messages), each table with its own predicate.
    expect(data.map(tablesOf)).toEqual([['conversations', 'messages', 'users']]);
    for (const sql of data) {
      for (const table of tablesOf(sql)) expect(sql).toContain(`"${table}"."tenant_id" = $`);
    }
  });

  it('leaves the statements of the server as shipped without an explicit tenant predicate', async () => {
    const shipped = await startTestServer();
    try {
      const { tenant } = await tenantWithConversation(shipped, 'Shipped');
      shipped.statements.length = 0;
      const dashboard = await shipped.client(tenant.admin.token).request(DashboardDocument, { first: 20, messages: 5 });
      expect(dashboard.errors).toBeUndefined();
      expect(shipped.statements.length).toBeGreaterThan(2);
      // The authors' rows are selected whole (`"users"."tenant_id" as …`), but nothing filters on the column.
      for (const sql of shipped.statements) expect(sql).not.toMatch(/"tenant_id" = /);
    } finally {
      await shipped.close();
    }
  });

  it("shows a request only its own tenant's rows although its role bypasses RLS", async () => {
    const mine = await tenantWithConversation(noRls, 'Mine');
    const theirs = await tenantWithConversation(noRls, 'Theirs');
    const api = noRls.client(mine.tenant.admin.token);

    const dashboard = await api.request(DashboardDocument, { first: 20, messages: 5 });
    expect(dashboard.data?.conversations.nodes.map((c) => c.title)).toEqual(['Mine']);
    expect(dashboard.data?.conversations.nodes[0]?.messages.nodes.map((m) => m.body)).toEqual(['hello from Mine']);

    const foreign = await noRls.post(
      { query: 'query($id: ID!) { node(id: $id) { id } }', variables: { id: theirs.conversationId } },
      { authorization: `Bearer ${mine.tenant.admin.token}` },
    );
    expect(foreign.json).toEqual({ data: { node: null } });

    const intrusion = await api.request(PostMessageDocument, { input: { conversationId: theirs.conversationId, body: 'intrusion' } });
    expect(intrusion.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const theirView = await noRls.client(theirs.tenant.admin.token).request(DashboardDocument, { first: 20, messages: 5 });
    expect(theirView.data?.conversations.nodes[0]).toMatchObject({ title: 'Theirs', messageCount: 1 });
  });

  it('refuses to start as a role that RLS applies to, and the shipped server refuses the BYPASSRLS role', async () => {
    await expect(startTestServer({}, startNoRlsServer)).rejects.toThrow(/NOSUPERUSER BYPASSRLS/);
    await expect(startTestServer({ appUrl: noRlsUrl })).rejects.toThrow(UnsafeDatabaseError);
  });

  it("cannot be had from the product's startServer: its plugin option does not skip the isolation check", async () => {
    const columns = await readTenantColumns(inject('ownerUrl'));
    const filter = (tenantId: string) => [new ExplicitTenantFilterPlugin(tenantId, columns)];
    await expect(startTestServer({ appUrl: noRlsUrl, transactionPlugins: filter })).rejects.toThrow(UnsafeDatabaseError);
  });
});

describe('ExplicitTenantFilterPlugin', () => {
  // Compiles without a database (Kysely's DummyDriver) and records the SQL, as Kysely's own tests do.
  const issued: { sql: string; parameters: readonly unknown[] }[] = [];
  const plain = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
    log: (event) => void issued.push({ sql: event.query.sql, parameters: event.query.parameters }),
  });
  let filtered: TenantTransaction;
  beforeAll(async () => {
    // The tenant tables and their tenant columns as the migrated schema's catalog lists them.
    const columns = await readTenantColumns(inject('ownerUrl'));
    expect(columns.get('messages')).toBe('tenant_id');
    filtered = plain.withPlugin(new ExplicitTenantFilterPlugin('42', columns)) as unknown as TenantTransaction;
  });
  const last = () => issued.at(-1)!;

  it('filters the table inside a LATERAL subquery', async () => {
    await listMessagesByConversations(filtered, ['c1'], { limit: 6, cursor: null, direction: 'forward' });
    expect(last()).toEqual({
      sql:
        'select "m".* from unnest($1::uuid[]) as c(id) cross join lateral (select "messages".* from "messages" ' +
        'where "messages"."conversation_id" = "c"."id" and "messages"."tenant_id" = $2 ' +
        'order by "messages"."created_at" desc, "messages"."id" desc limit $3) as "m"',
      parameters: [['c1'], '42', 6],
    });
  });

  it('filters the SELECT that feeds an INSERT, and the target of an UPDATE', async () => {
    await insertMessage(filtered, { conversationId: 'c1', authorId: 'u1', body: 'b' });
    // The SELECT feeding the insert, and the join of the author after it (the CTE `inserted` is no table).
    expect(last().sql).toContain('from "conversations" where "conversations"."id" = $3 and "conversations"."tenant_id" = $4 returning *');
    expect(last().sql).toContain('from "inserted" left join "users" on "users"."id" = "inserted"."author_id" and "users"."tenant_id" = $5');
    await updateConversation(filtered, 'c1', { archived: true });
    expect(last().sql).toBe('update "conversations" set "archived" = $1 where "id" = $2 and "conversations"."tenant_id" = $3 returning *');
  });

  it("uses the alias, puts a joined table's predicate in its ON, and keys tenants by id", async () => {
    await filtered.selectFrom('users as u').leftJoin('messages', 'messages.author_id', 'u.id').select('u.id').execute();
    expect(last().sql).toBe(
      'select "u"."id" from "users" as "u" left join "messages" on "messages"."author_id" = "u"."id" ' +
        'and "messages"."tenant_id" = $1 where "u"."tenant_id" = $2',
    );
    await filtered.selectFrom('tenants').selectAll().execute();
    expect(last().sql).toBe('select * from "tenants" where "tenants"."id" = $1');
  });

  it('refuses raw SQL and tables it does not know instead of running them unfiltered', async () => {
    await expect(sql`select * from messages`.execute(filtered)).rejects.toThrow(/raw SQL/);
    await expect((filtered as unknown as Kysely<any>).selectFrom('kysely_migration').selectAll().execute()).rejects.toThrow(
      /does not know table "kysely_migration"/,
    );
  });

  it('leaves statements alone without the plugin', async () => {
    await listMessagesByConversations(plain as unknown as TenantTransaction, ['c1'], { limit: 6, cursor: null, direction: 'forward' });
    expect(last().sql).not.toContain('tenant_id');
  });
});
