import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { childEnv, REPOSITORY_ROOT, runCliInProcess, type CliResult } from './support/processes.js';
import { summarizePlan, type ExplainResult } from '../src/cli/plan-summary.js';
import { listTenantTables } from '../src/db/tenant-catalog.js';
import { enterTenant } from '../src/tenancy/enter-tenant.js';
import { withAppClient, withOwnerClient } from './support/owner-db.js';
import { createTestTenant, type TestTenant } from './support/tenants.js';

// Issue 5 §1 and §2: the operator commands `audit`, `explain` and `sql`, run as an operator runs them (the commands
// run in this process through src/cli/run-cli.ts; psql, which needs the CLI's stdin, in a child process) against
// the test database, through the app role.

const databaseEnv = () => ({ DATABASE_URL: inject('ownerUrl'), DATABASE_URL_APP: inject('appUrl'), DATABASE_URL_OPERATOR: inject('operatorUrl') });
const cli = (...args: string[]) => runCliInProcess(args, databaseEnv());

/** The CLI with `input` on its stdin (what psql then reads) and extra environment (PATH). */
function cliWithInput(args: string[], input: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: REPOSITORY_ROOT, env: childEnv({ ...databaseEnv(), ...env }), timeout: 60_000 },
      (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

const lines = (stdout: string) => stdout.split('\n').filter(Boolean);
const ndjson = (stdout: string) => lines(stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
/** The request id the sql command reports on stderr ("... · audit event cli-<uuid>"). */
const requestIdOf = (result: CliResult) => /audit event (cli-[0-9a-f-]{36})/.exec(result.stderr)?.[1];

/** Adds `count` conversations titled `<prefix> n` (and `messagesEach` messages each) as the owner, in the tenant's context. */
async function addConversations(tenant: TestTenant, prefix: string, count: number, messagesEach = 0): Promise<void> {
  await withOwnerClient(async (client) => {
    await client.query('begin');
    await enterTenant(client, tenant.id);
    await client.query(
      `insert into conversations (title, created_by, archived, created_at)
       select format('%s %s', $1::text, g), $2::uuid, g % 10 = 0, now() - g * interval '1 minute' from generate_series(1, $3::int) g`,
      [prefix, tenant.admin.id, count],
    );
    if (messagesEach) {
      await client.query(
        `insert into messages (conversation_id, author_id, body, created_at)
         select c.id, $2::uuid, format('message %s', g), c.created_at + g * interval '1 second'
           from conversations c cross join generate_series(1, $3::int) g
          where c.tenant_id = $1::bigint`,
        [tenant.id, tenant.admin.id, messagesEach],
      );
    }
    await client.query('commit');
  });
}

/** The tenant's conversations as the owner counts them. */
async function countOf(tenant: TestTenant): Promise<number> {
  return withOwnerClient(async (client) =>
    Number((await client.query<{ count: string }>('select count(*) from conversations where tenant_id = $1', [tenant.id])).rows[0]!.count),
  );
}

/** The tenant's audit events as the owner sees them (the owner is a superuser in tests: no RLS). */
function auditRows(tenantId: string) {
  return withOwnerClient(
    async (client) =>
      (
        await client.query(
          'select request_id, source, operation_type, operation_name, outcome, user_id, duration_ms from audit_events where tenant_id = $1 order by created_at',
          [tenantId],
        )
      ).rows,
  );
}

describe('cli sql', () => {
  let small: TestTenant;
  let large: TestTenant;
  beforeAll(async () => {
    [small, large] = await Promise.all([createTestTenant(), createTestTenant()]);
    await Promise.all([addConversations(small, 'Small', 3), addConversations(large, 'Large', 5)]);
  });

  it('counts only the tenant’s rows', async () => {
    const [a, b] = await Promise.all([
      cli('sql', '--tenant', small.id, '-c', 'select count(*) from conversations'),
      cli('sql', '--tenant', large.id, '-c', 'select count(*) from conversations'),
    ]);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toBe('{"count":"3"}\n');
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toBe('{"count":"5"}\n');
  });

  it('never shows another tenant’s rows, also without a WHERE clause', async () => {
    const result = await cli('sql', '--tenant', small.id, '-c', 'select * from conversations');
    expect(result.status, result.stderr).toBe(0);
    const rows = ndjson(result.stdout);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.tenant_id).toBe(small.id);
      expect(row.title).toMatch(/^Small \d$/);
    }
    const users = ndjson((await cli('sql', '--tenant', small.id, '-c', 'select tenant_id, email from users')).stdout);
    expect(users).toEqual([{ tenant_id: small.id, email: small.admin.email }]);
  });

  it('prints a psql-like table with --table', async () => {
    const result = await cli(
      'sql',
      '--tenant',
      large.id,
      '--table',
      '-c',
      "select title, message_count from conversations where title in ('Large 1', 'Large 2') order by title",
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      ['  title  | message_count', '---------+---------------', ' Large 1 |             0', ' Large 2 |             0', '(2 rows)', ''].join('\n'),
    );
  });

  it('refuses a write without --write (READ ONLY) and commits one with it, with its audit event', async () => {
    const insert = `insert into conversations (title, created_by) values ('Written by an operator', '${small.admin.id}') returning title`;
    const refused = await cli('sql', '--tenant', small.id, '-c', insert);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('cannot execute INSERT in a read-only transaction');

    const written = await cli('sql', '--tenant', small.id, '--write', '-c', insert);
    expect(written.status, written.stderr).toBe(0);
    expect(written.stdout).toBe('{"title":"Written by an operator"}\n');
    const titles = await withOwnerClient(
      async (client) =>
        (await client.query('select title from conversations where tenant_id = $1 and title = $2', [small.id, 'Written by an operator'])).rows,
    );
    expect(titles).toHaveLength(1);

    const events = await auditRows(small.id);
    expect(events.find((event) => event.request_id === requestIdOf(refused))).toMatchObject({ outcome: 'rolled_back', operation_name: insert });
    expect(events.find((event) => event.request_id === requestIdOf(written))).toMatchObject({ outcome: 'committed', operation_name: insert });
  });

  it('runs exactly one statement, so a second one cannot end the READ ONLY transaction', async () => {
    const statements = ['select 1; select 2', `commit; insert into conversations (title, created_by) values ('Escaped', '${small.admin.id}')`];
    for (const result of await Promise.all(statements.map((statement) => cli('sql', '--tenant', small.id, '-c', statement)))) {
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('cannot insert multiple commands into a prepared statement');
    }
  });

  it('shows only the tenant’s rows to a statement that switches the tenant setting itself', async () => {
    // The operator role's tenant is its connection's binding, not the setting (test/cli-sql-confinement.test.ts).
    const result = await cli(
      'sql',
      '--tenant',
      small.id,
      '-c',
      `select set_config('app.current_tenant', '${large.id}', false), (select count(*) from conversations)`,
    );
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ set_config: large.id, count: String(await countOf(small)) });
  });

  it('leaves one audit event (source cli, operation type sql, no user) in that tenant’s trail only', async () => {
    const statement = `select count(*) from users -- ${'x'.repeat(250)}`;
    const result = await cli('sql', '--tenant', large.id, '-c', statement);
    expect(result.status, result.stderr).toBe(0);
    const requestId = requestIdOf(result);
    expect(requestId).toBeDefined();
    const mine = (await auditRows(large.id)).filter((event) => event.request_id === requestId);
    expect(mine).toEqual([
      {
        request_id: requestId,
        source: 'cli',
        operation_type: 'sql',
        operation_name: statement.slice(0, 200),
        outcome: 'rolled_back',
        user_id: null,
        duration_ms: expect.any(Number),
      },
    ]);
    expect((await auditRows(small.id)).map((event) => event.request_id)).not.toContain(requestId);
  });

  it('fails with status 1 for a tenant that does not exist, and with status 2 for bad arguments', async () => {
    const missing = await cli('sql', '--tenant', '999999999999999999', '-c', 'select 1');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('No tenant 999999999999999999.');
    const invalid = [
      ['sql', '-c', 'select 1'],
      ['sql', '--tenant', 'x1', '-c', 'select 1'],
      ['sql', '--tenant', '1', '-c', ' '],
      ['sql', '--tenant', '1', '--table'],
    ];
    for (const [index, result] of (await Promise.all(invalid.map((args) => cli(...args)))).entries()) {
      expect(result.status, invalid[index]!.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^error: .+\nUsage: npm run -s cli -- <command>\n/);
    }
  });

  const psql = (() => {
    try {
      execFileSync('psql', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.runIf(psql)('opens psql as the operator role with the tenant applied, read-only, and audits the session', async () => {
    const input = [
      'select count(*) as conversations from conversations;',
      `insert into conversations (title, created_by) values ('From psql', '${small.admin.id}');`,
      'select current_user;',
    ].join('\n');
    // The operator's connection goes to PostgreSQL itself, also where the app role's goes through PgBouncer.
    const result = await cliWithInput(['sql', '--tenant', small.id], input);
    expect(result.status, result.stderr).toBe(0);
    const expected = await withOwnerClient(
      async (client) => (await client.query<{ count: string }>('select count(*) from conversations where tenant_id = $1', [small.id])).rows[0]!.count,
    );
    expect(result.stdout).toMatch(new RegExp(`conversations\\s*\\n-+\\n\\s+${expected}\\n\\(1 row\\)`));
    expect(result.stdout).toContain('tenantgraph_operator');
    expect(result.stderr).toContain('cannot execute INSERT in a read-only transaction');
    const requestId = requestIdOf(result);
    expect((await auditRows(small.id)).filter((event) => event.request_id === requestId)).toEqual([
      expect.objectContaining({ source: 'cli', operation_type: 'sql', operation_name: 'psql session', outcome: 'committed', user_id: null }),
    ]);
  });

  it('says that psql is missing when it is not on PATH, and writes no event', async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-no-psql-'));
    const sessions = async () => (await auditRows(small.id)).filter((event) => event.operation_name === 'psql session').length;
    const before = await sessions();
    try {
      const result = await cliWithInput(['sql', '--tenant', small.id], '', { PATH: empty });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('psql was not found on PATH. The embedded PostgreSQL package ships no psql');
      expect(await sessions()).toBe(before);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('cli audit', () => {
  let tenant: TestTenant;
  let neighbour: TestTenant;
  beforeAll(async () => {
    [tenant, neighbour] = await Promise.all([createTestTenant(), createTestTenant()]);
    for (const [owner, prefix] of [
      [tenant, 'mine'],
      [neighbour, 'theirs'],
    ] as const) {
      await withOwnerClient(async (client) => {
        await client.query('begin');
        await enterTenant(client, owner.id);
        await client.query(
          `insert into audit_events (created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms)
           select ('2024-05-0' || g || ' 12:00:00Z')::timestamptz, $1::uuid, $2 || '-' || g, 'api', 'query', 'Dashboard', 'committed', g
             from generate_series(1, 3) g`,
          [owner.admin.id, prefix],
        );
        await client.query('commit');
      });
    }
  });

  it('prints the tenant’s events as NDJSON, newest first, and no other tenant’s', async () => {
    const result = await cli('audit', '--tenant', tenant.id);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^audit event cli-[0-9a-f-]{36} \(committed\)\n$/);
    expect(ndjson(result.stdout)).toEqual(
      [3, 2, 1].map((g) => ({
        occurredAt: `2024-05-0${g}T12:00:00.000Z`,
        userId: tenant.admin.id,
        requestId: `mine-${g}`,
        source: 'api',
        operationType: 'query',
        operationName: 'Dashboard',
        outcome: 'committed',
        durationMs: g,
      })),
    );
    expect(result.stdout).not.toContain('theirs');
  });

  it('filters with --since, stops at --limit, and leaves an event of its own read', async () => {
    const since = await cli('audit', '--tenant', tenant.id, '--since', '2024-05-02T00:00:00Z');
    expect(since.status, since.stderr).toBe(0);
    const api = ndjson(since.stdout).filter((event) => event.source === 'api');
    expect(api.map((event) => event.requestId)).toEqual(['mine-3', 'mine-2']);
    // The newest event is the --since run's own: reading a tenant's trail is a switch into its context too.
    const limited = await cli('audit', '--tenant', tenant.id, '--limit', '1');
    expect(ndjson(limited.stdout)).toEqual([
      {
        occurredAt: expect.stringMatching(/Z$/),
        userId: null,
        requestId: requestIdOf(since),
        source: 'cli',
        operationType: 'sql',
        operationName: 'audit',
        outcome: 'committed',
        durationMs: expect.any(Number),
      },
    ]);
  });

  it.concurrent.each([
    ['a malformed --since', ['--since', 'yesterday']],
    ['a --since that is not a calendar date', ['--since', '2024-02-30']],
    ['a --limit that is not a positive integer', ['--limit', '0']],
  ])('exits 2 with the usage for %s', async (_case, args) => {
    const result = await cli('audit', '--tenant', '1', ...args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: --(since|limit) must .+\nUsage: npm run -s cli -- <command>\n/);
  });
});

describe('cli explain', () => {
  const PATHS = [
    'findCurrentTenant',
    'listUsers',
    'countUsers',
    'findUsersByIds',
    'listConversations',
    'listConversations(after)',
    'listConversations(before)',
    'listConversations(archived: false)',
    'listConversations(titleContains)',
    'countConversations',
    'countConversations(archived: false)',
    'findConversationsByIds',
    'listMessagesByConversations',
    'listMessagesWithAuthorsByConversations',
    'listMessagesByConversations(after)',
    'listMessagesByConversations(before)',
    'findMessagesByIds',
    'listAuditEvents',
    'updateConversation',
    'insertMessage',
  ];
  let tenant: TestTenant;
  beforeAll(async () => {
    tenant = await createTestTenant();
    // Enough rows that the planner's choice matters: 2,000 conversations, 10,000 messages, 200 users, 500 events.
    await addConversations(tenant, 'Explained topic', 2000, 5);
    await withOwnerClient(async (client) => {
      await client.query('begin');
      await enterTenant(client, tenant.id);
      await client.query(
        `insert into users (email, display_name) select format('load-%s@example.test', g), format('Load %s', g) from generate_series(1, 200) g`,
      );
      await client.query(
        `insert into audit_events (created_at, request_id, outcome, duration_ms)
         select now() - g * interval '1 second', format('load-%s', g), 'committed', 1 from generate_series(1, 500) g`,
      );
      await client.query('commit');
      // A test database holds a few dozen tenants, and this one would own most rows of each table: then reading
      // the whole table is the cheaper plan, and rightly so. Production has many tenants, and RLS plans are
      // estimated for the average one (tenant_id = (InitPlan) is 1 / n_distinct). 1,000 small neighbours (a
      // member, two conversations with a message each, an audit event) give the tables that shape.
      await client.query(
        `with neighbours as (
           insert into tenants (name) select format('Explain neighbour %s', g) from generate_series(1, 1000) g returning id
         ), members as (
           insert into users (tenant_id, email, display_name) select id, 'neighbour@example.test', 'Neighbour' from neighbours returning tenant_id, id
         ), events as (
           insert into audit_events (tenant_id, created_at, request_id, outcome, duration_ms) select id, now(), 'neighbour', 'committed', 1 from neighbours
         ), topics as (
           insert into conversations (tenant_id, title, created_by)
           select m.tenant_id, format('Neighbour topic %s', g), m.id from members m cross join generate_series(1, 2) g returning tenant_id, id, created_by
         )
         insert into messages (tenant_id, conversation_id, author_id, body) select tenant_id, id, created_by, 'Neighbour message' from topics`,
      );
      for (const table of await listTenantTables(client)) await client.query(`analyze ${table.qualifiedName}`);
    });
  }, 120_000);

  it('reports every access path with a tenant-led index and the tenant predicate as Index Cond (--json)', async () => {
    const result = await cli('explain', '--tenant', tenant.id, '--json');
    expect(result.status, result.stderr).toBe(0);
    expect((await auditRows(tenant.id)).filter((event) => event.request_id === requestIdOf(result))).toEqual([
      expect.objectContaining({ source: 'cli', operation_type: 'sql', operation_name: 'explain', outcome: 'rolled_back', user_id: null }),
    ]);
    const paths = ndjson(result.stdout);
    expect(paths.map((p) => p.path)).toEqual(PATHS);
    for (const p of paths) {
      const where = JSON.stringify(p);
      expect(p.tenantIndexUsed, where).toBe(true);
      expect(p.tenantPredicateInIndexCond, where).toBe(true);
      expect(p.executionMs, where).toEqual(expect.any(Number));
      expect(p.buffers, where).toEqual({ hit: expect.any(Number), read: expect.any(Number) });
      for (const scan of p.scans as { nodeType: string }[]) expect(scan.nodeType, where).not.toBe('Seq Scan');
    }
    // Sampled from the tenant's data: the reads found its rows.
    const rowsOf = (name: string) => paths.find((p) => p.path === name)!.rows;
    expect(rowsOf('listConversations')).toBe(21);
    expect(rowsOf('countConversations')).toBe(1);
    expect(rowsOf('findMessagesByIds')).toBe(20);
  });

  it('prints a table by default and commits nothing of the writes it analyses', async () => {
    const before = await counts(tenant.id);
    const result = await cli('explain', '--tenant', tenant.id);
    expect(result.status, result.stderr).toBe(0);
    const table = lines(result.stdout);
    expect(table[0]).toMatch(/^\s+path\s+\|\s+scans\s+\|\s+tenant index\s+\|\s+tenant in Index Cond\s+\|\s+ms\s+\|\s+rows\s+\|\s+hit\s+\|\s+read$/);
    expect(table).toHaveLength(2 + PATHS.length);
    expect(table.find((line) => line.startsWith(' insertMessage '))).toMatch(/\| conversations|on conversations/);
    expect(await counts(tenant.id)).toEqual(before);
  });

  it('reports a sequential scan of a tenant table as no tenant index (negative control)', async () => {
    const explain = (statement: string, settings: string[]) =>
      withAppClient(async (client) => {
        await client.query('begin');
        await enterTenant(client, tenant.id);
        for (const setting of settings) await client.query(setting);
        const { rows: plan } = await client.query<{ 'QUERY PLAN': ExplainResult[] }>(`explain (analyze, buffers, format json) ${statement}`);
        const { rows: indexes } = await client.query<{ index: string; column: string }>(
          `select c.relname as index, a.attname as column from pg_index i join pg_class c on c.oid = i.indexrelid
             join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]`,
        );
        await client.query('rollback');
        return summarizePlan(plan[0]!['QUERY PLAN'][0]!, new Map(indexes.map((row) => [row.index, row.column])));
      });
    const sequential = await explain('select * from conversations', ['set local enable_indexscan = off', 'set local enable_bitmapscan = off']);
    expect(sequential.scans.map((scan) => scan.nodeType)).toEqual(['Seq Scan']);
    expect(sequential).toMatchObject({ tenantIndexUsed: false, tenantPredicateInIndexCond: false });
  });

  async function counts(tenantId: string) {
    return withOwnerClient(async (client) => {
      const { rows } = await client.query(
        `select (select count(*) from messages where tenant_id = $1) as messages,
                (select sum(message_count) from conversations where tenant_id = $1) as counted,
                (select count(*) from conversations where tenant_id = $1 and archived) as archived`,
        [tenantId],
      );
      return rows[0];
    });
  }
});
