import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { issueOperatorClaim } from '../src/cli/operator-connection.js';
import { startOperatorSession } from '../src/cli/tenant-session.js';
import { withUser } from '../src/db/database-urls.js';
import { findOperatorConfinementProblems } from '../src/db/operator-safety-check.js';
import { APP_ROLE } from '../src/db/prepare-database.js';
import { snapshotTenants, withAppClient, withOwnerClient } from './support/owner-db.js';
import { childEnv, REPOSITORY_ROOT, runCliInProcess, type CliResult } from './support/processes.js';
import { createTestTenant, type TestTenant } from './support/tenants.js';

// Issue 8 §4: `cli sql` runs the operator's statement so that changing the tenant context is impossible, not
// detected afterwards. Each attack below read or wrote the victim tenant on the code before migration 0007 (the
// statement ran as the app role, whose tenant is a setting any statement may change). Each runs through the CLI's
// command (in this process; the psql session in a child process) and is checked as the owner: the victim's rows
// are unchanged, no output carries them, and the session is audited in the operator's tenant only.

const databaseEnv = (operatorUrl = inject('operatorUrl')) => ({
  DATABASE_URL: inject('ownerUrl'),
  DATABASE_URL_APP: inject('appUrl'),
  DATABASE_URL_OPERATOR: operatorUrl,
});
const cli = (...args: string[]) => runCliInProcess(args, databaseEnv());
const requestIdOf = (result: CliResult) => /audit event (cli-[0-9a-f-]{36})/.exec(result.stderr)?.[1];

let home: TestTenant;
let victim: TestTenant;
/** A title only the victim has: any output that contains it carries the victim's rows. */
let secret: string;
const homeTitle = `home-${randomUUID()}`;

beforeAll(async () => {
  [home, victim] = await Promise.all([createTestTenant(), createTestTenant()]);
  secret = `victim-secret-${randomUUID()}`;
  await withOwnerClient(async (client) => {
    for (const [tenant, title] of [
      [home, homeTitle],
      [victim, secret],
    ] as const) {
      await client.query('insert into conversations (tenant_id, title, created_by) values ($1, $2, $3)', [tenant.id, title, tenant.admin.id]);
    }
  });
});

/** The session's audit events per tenant, as the owner sees them. */
async function eventsOf(requestId: string | undefined) {
  expect(requestId, 'the CLI reports its audit event').toBeDefined();
  const { rows } = await withOwnerClient((client) =>
    client.query<{ tenant_id: string; outcome: string }>('select tenant_id, outcome from audit_events where request_id = $1', [requestId]),
  );
  return rows;
}

/** Neither read (nothing printed carries the victim's title) nor written (victim unchanged), audited in home only. */
async function expectConfined(result: CliResult, victimBefore: Awaited<ReturnType<typeof snapshotTenants>>, marker?: string) {
  expect(result.stdout + result.stderr).not.toContain(secret);
  expect(await snapshotTenants([victim.id])).toEqual(victimBefore);
  if (marker) {
    const planted = await withOwnerClient((client) => client.query('select tenant_id from conversations where title = $1', [marker]));
    expect(planted.rows).toEqual([]);
  }
  const events = await eventsOf(requestIdOf(result));
  expect(events).toHaveLength(1);
  expect(events[0]!.tenant_id).toBe(home.id);
}

describe('cli sql -c confines the statement to its tenant', () => {
  const switchTo = (tenantId: string) => `set_config('app.current_tenant', '${tenantId}', true)`;

  it.each([
    [
      'set_config around a sub-select in the select list',
      () => `select ${switchTo(victim.id)}, (select string_agg(title, ',') from conversations) as titles, ${switchTo(home.id)}`,
    ],
    [
      'set_config in a FROM sub-select',
      () => `select (select string_agg(title, ',') from conversations) as titles, ${switchTo(home.id)} from (select ${switchTo(victim.id)}) s`,
    ],
    [
      'set_config in a CTE',
      () =>
        `with s as materialized (select ${switchTo(victim.id)}) select (select string_agg(title, ',') from conversations) as titles, ${switchTo(home.id)} from s`,
    ],
  ])('reads only its own tenant with %s', async (_name, statement) => {
    const before = await snapshotTenants([victim.id]);
    const result = await cli('sql', '--tenant', home.id, '-c', statement());
    expect(result.status, result.stderr).toBe(0);
    const [row] = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { titles: string });
    expect(row!.titles).toBe(homeTitle);
    await expectConfined(result, before);
  });

  it('puts no row of another tenant into the text of an error', async () => {
    const before = await snapshotTenants([victim.id]);
    const result = await cli(
      'sql',
      '--tenant',
      home.id,
      '-c',
      `select ${switchTo(victim.id)}, (select title::int from conversations limit 1), ${switchTo(home.id)}`,
    );
    expect(result.status).toBe(1);
    // The cast fails on the operator's own tenant's title, the one row it can see.
    expect(result.stderr).toContain(homeTitle);
    await expectConfined(result, before);
  });

  it('cannot write into another tenant from a CTE (--write), and is audited in its own', async () => {
    const before = await snapshotTenants([victim.id]);
    const marker = `planted-${randomUUID()}`;
    const statement =
      `with s as materialized (select ${switchTo(victim.id)}), ` +
      `planted as (insert into conversations (title, created_by) select '${marker}', '${victim.admin.id}' from s returning 1) ` +
      `select (select count(*) from planted) as planted, ${switchTo(home.id)}`;
    const result = await cli('sql', '--tenant', home.id, '--write', '-c', statement);
    // The row defaults to the operator's own tenant, where the victim's admin is no member: the foreign key refuses it.
    expect(result.status).toBe(1);
    await expectConfined(result, before, marker);
    expect((await eventsOf(requestIdOf(result)))[0]!.outcome).toBe('rolled_back');
  });

  // Every way of leaving a setting-based context, each followed by a write into the victim (--write, so the old
  // code committed it). The DO block is the one statement -c takes; the tenant is named explicitly, so the only
  // thing between the row and the victim is the tenant policy's WITH CHECK.
  it.each([
    ['a DO block', ''],
    ['SET ROLE to the app role', `execute 'set local role ${APP_ROLE}';`],
    ['RESET ROLE', 'reset role;'],
    ['SET SESSION AUTHORIZATION', `execute 'set session authorization ${APP_ROLE}';`],
    ['RESET ALL', 'reset all;'],
    [
      'set_config inside a function of its own (temporary: it may create in no schema)',
      `create function pg_temp.switch_tenant(t text) returns text language sql as $f$ select set_config('app.current_tenant', t, true) $f$;` +
        ` perform pg_temp.switch_tenant(VICTIM);`,
    ],
  ])('cannot write into another tenant with %s', async (_name, escape) => {
    const before = await snapshotTenants([victim.id]);
    const marker = `planted-${randomUUID()}`;
    const statement =
      `do $$ begin ${escape.replace('VICTIM', `'${victim.id}'`)} perform ${switchTo(victim.id)}; ` +
      `insert into conversations (tenant_id, title, created_by) values (${victim.id}, '${marker}', '${victim.admin.id}'); ` +
      `perform ${switchTo(home.id)}; end $$`;
    const result = await cli('sql', '--tenant', home.id, '--write', '-c', statement);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/permission denied|violates row-level security policy/);
    await expectConfined(result, before, marker);
  });

  it('may create functions in no schema but its temporary one', async () => {
    const result = await cli(
      'sql',
      '--tenant',
      home.id,
      '--write',
      '-c',
      "do $$ begin create function public.switch_tenant() returns int language sql as 'select 1'; end $$",
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('permission denied for schema public');
  });

  it('cannot redeem another session’s token: a bound connection claims no second tenant', async () => {
    const claim = await issueOperatorClaim(inject('ownerUrl'), startOperatorSession(victim.id, 'stolen token'));
    try {
      const result = await cli('sql', '--tenant', home.id, '-c', `select app.claim_operator_session('${claim.token}', now())`);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('this connection is already bound to a tenant');
      expect(await claim.claimed()).toBe(false);
    } finally {
      await claim.close();
    }
  });

  it('refuses an operator URL that logs in as the app role, before running anything (fail closed)', async () => {
    const before = await snapshotTenants([victim.id]);
    // Straight to PostgreSQL, as the operator's URL is (the tests give both roles the same password).
    const operator = new URL(inject('operatorUrl'));
    const app = withUser(operator.toString(), APP_ROLE, decodeURIComponent(operator.password));
    const result = await runCliInProcess(
      ['sql', '--tenant', home.id, '-c', `select ${switchTo(victim.id)}, (select string_agg(title, ',') from conversations)`],
      databaseEnv(app),
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Refusing to run operator SQL: the operator connection is not confined to its tenant.');
    expect(result.stderr).toContain(`acts as "${APP_ROLE}"`);
    await expectConfined(result, before);
    expect((await eventsOf(requestIdOf(result)))[0]!.outcome).toBe('rejected');
  });
});

describe.runIf(process.env.TEST_PGBOUNCER_URL)('cli sql through PgBouncer', () => {
  it('refuses an operator connection through a pooler, whose backend would carry the binding to its next client', async () => {
    const pooled = new URL(inject('operatorUrl'));
    pooled.host = new URL(process.env.TEST_PGBOUNCER_URL!).host;
    const before = await snapshotTenants([victim.id]);
    const result = await runCliInProcess(['sql', '--tenant', home.id, '-c', 'select 1'], databaseEnv(pooled.toString()));
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('The operator connection goes through a connection pooler');
    await expectConfined(result, before);
  });
});

describe('an operator connection without a binding (app.operator_sessions)', () => {
  it('sees no tenant whatever app.current_tenant says, cannot bind itself, and ignores a binding of an earlier backend with its pid', async () => {
    const client = new pg.Client({ connectionString: inject('operatorUrl') });
    await client.connect();
    const failure = (text: string) =>
      client.query(text).then(
        () => null,
        (error: pg.DatabaseError) => error.message,
      );
    try {
      await client.query(`select set_config('app.current_tenant', '${victim.id}', false)`);
      expect(await failure('select title from conversations')).toBe('this operator connection is bound to no tenant');
      const {
        rows: [me],
      } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      expect(
        await failure(
          `insert into app.operator_sessions (bound_tenant_id, request_id, backend_pid, backend_start) values (${victim.id}, 'self', ${me!.pid}, now())`,
        ),
      ).toBe('permission denied for table operator_sessions');
      // What a CLI killed before removing its binding leaves: the same pid, another backend's start.
      await withOwnerClient((owner) =>
        owner.query(
          "insert into app.operator_sessions (bound_tenant_id, request_id, backend_pid, backend_start) values ($1, 'stale', $2, now() - interval '1 hour')",
          [victim.id, me!.pid],
        ),
      );
      expect(await failure('select title from conversations')).toBe('this operator connection is bound to no tenant');
    } finally {
      await client.end();
      await withOwnerClient((owner) => owner.query("delete from app.operator_sessions where request_id in ('self', 'stale')"));
    }
  });
});

describe('findOperatorConfinementProblems', () => {
  it('reports the app role, whose tenant follows app.current_tenant (negative control)', async () => {
    const problems = await withAppClient((client) => findOperatorConfinementProblems(client, home.id));
    expect(problems).toEqual([expect.stringContaining(`The operator connection acts as "${APP_ROLE}"`)]);
  });
});

const psql = (() => {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(psql)('cli sql without -c (psql) confines the session to its tenant', () => {
  function psqlSession(input: string): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'sql', '--tenant', home.id, '--write'],
        { cwd: REPOSITORY_ROOT, env: childEnv(databaseEnv()), timeout: 60_000 },
        (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      );
      child.stdin!.end(input);
    });
  }

  it('ignores set_config, SET ROLE, RESET, SET SESSION AUTHORIZATION, DISCARD ALL and functions of its own', async () => {
    const before = await snapshotTenants([victim.id]);
    const marker = `planted-${randomUUID()}`;
    const input = [
      `select set_config('app.current_tenant', '${victim.id}', false);`,
      `set role ${APP_ROLE};`,
      'reset role;',
      `set session authorization ${APP_ROLE};`,
      'reset all;',
      'discard all;',
      `create function pg_temp.switch_tenant(t text) returns text language sql as $$ select set_config('app.current_tenant', t, false) $$;`,
      `select pg_temp.switch_tenant('${victim.id}');`,
      `select app.claim_operator_session(gen_random_uuid(), now());`,
      "select 'titles:' || string_agg(title, ',') as seen from conversations;",
      `insert into conversations (tenant_id, title, created_by) values (${victim.id}, '${marker}', '${victim.admin.id}');`,
      'select current_user;',
    ].join('\n');
    const result = await psqlSession(input);
    expect(result.stdout).toContain(`titles:${homeTitle}`);
    expect(result.stdout).toContain('tenantgraph_operator');
    expect(result.stderr).toContain(`permission denied to set role "${APP_ROLE}"`);
    expect(result.stderr).toContain('this connection is already bound to a tenant');
    expect(result.stderr).toMatch(/new row violates row-level security policy( "tenant_isolation")? for table "conversations"/);
    await expectConfined(result, before, marker);
  });
});

describe('cli sql with TENANT_CONTEXT_MODE=citus', () => {
  it('refuses at once, before connecting anywhere, and names what to use instead', async () => {
    // Nothing listens on these URLs: a refusal that connected first would report a connection error instead.
    const nowhere = 'postgres://tenantgraph_operator@127.0.0.1:9/nowhere';
    for (const args of [
      ['sql', '--tenant', home.id, '-c', 'select 1'],
      ['sql', '--tenant', home.id],
    ]) {
      const result = await runCliInProcess(args, {
        DATABASE_URL: nowhere,
        DATABASE_URL_APP: nowhere,
        DATABASE_URL_OPERATOR: nowhere,
        TENANT_CONTEXT_MODE: 'citus',
      });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('sql is not available with TENANT_CONTEXT_MODE=citus');
      expect(result.stderr).toContain('tenant export --tenant ID --out DIR');
      expect(result.stderr).not.toMatch(/ECONNREFUSED|connect/i);
    }
  });
});
