import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogReader } from '../../src/db/catalog-reader.js';
import {
  CITUS_REFERENCE_TENANT_TABLES,
  CITUS_RULES,
  citusForeignKeyProblems,
  citusLayout,
  citusPolicyFunctionProblems,
  citusPolicySubqueryProblems,
  citusUniqueKeyProblems,
  findCitusProblems,
} from '../../src/db/citus-rules.js';
import { APP_ROLE, findCatalogProblems, listTenantTables, rowSecurityProblems, type TenantTable } from '../../src/db/tenant-catalog.js';
import { buildTransactionPrologue } from '../../src/tenancy/transaction-prologue.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { about, inRolledBackTransaction, scratchName } from '../support/scratch-catalog.js';
import { withOwnerClient } from '../support/owner-db.js';
import { runCliInProcess } from '../support/processes.js';

// Issue 13 §5: what Citus would reject or could not distribute, proven by rule on plain PostgreSQL (src/db/citus-rules.ts).
// The shared test database has the standard policies, so the policy rule must report exactly their subqueries
// and nothing else may be found. A scratch database of its own gets the Citus policy form
// (app.set_tenant_policy_form, migrations/0017) for every tenant table, as an operator switching would: there
// every rule passes. Rewriting the shared database's policies, even in a rolled-back transaction, would lock its
// tables under the concurrently running test files. Each rule has a negative control built inside a rolled-back
// owner transaction, looking only at the problems that name its own scratch objects.

/** A sound distributed tenant table: tenant-led key, RLS from migrations/0009, then the Citus policy form. */
const citusTable = (table: string, columns = '') => [
  `create table public.${table} (tenant_id bigint not null default app.current_tenant_id() references public.tenants (id),
                                 id uuid not null default gen_random_uuid()${columns}, primary key (tenant_id, id))`,
  `select app.enable_tenant_rls('public.${table}')`,
  `select app.set_tenant_policy_form('public.${table}', 'citus')`,
];

let tenantTables: TenantTable[];

/**
 * The one finding the rules make in either policy form, accepted knowingly: app.current_tenant_id() reads
 * app.operator_sessions, but only when the session is the confined operator role of `cli sql` (migrations/0007).
 * The app role's path reads the setting alone, so API statements push down; on Citus an operator statement that
 * reaches a worker fails there (no binding on the worker: TG001 or a missing table), closed, never open, and
 * `cli sql` refuses TENANT_CONTEXT_MODE=citus before it connects (docs/citus.md, "cli sql and Citus"). A new finding, or this one from another function, fails the tests below.
 */
const operatorBranchFinding = (tables: number) =>
  `app.current_tenant_id(), called by ${tables} policies (tenant_isolation on public.audit_events, …), reads a table, which on a worker is not the coordinator's table: a pushed-down statement that takes that path fails on the worker, or reads the worker's own copy. Fix: read only settings (current_setting) on every path a distributed query can take.`;

beforeAll(async () => {
  tenantTables = await withOwnerClient(listTenantTables);
});

describe('citusLayout', () => {
  it('distributes every tenant table but tenants by tenant_id, and makes tenants and plan_limits reference tables', async () => {
    const layout = await withOwnerClient(citusLayout);
    expect(layout.distributed).toEqual(
      tenantTables
        .filter((t) => !CITUS_REFERENCE_TENANT_TABLES.includes(t.qualifiedName))
        .map((t) => t.qualifiedName)
        .sort(),
    );
    expect(layout.distributed).toEqual(expect.arrayContaining(['public.users', 'public.conversations', 'public.messages']));
    expect(layout.reference).toEqual(['public.plan_limits', 'public.tenants']);
  });

  it('follows foreign keys transitively into reference tables (negative control)', async () => {
    const t = scratchName();
    const layout = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t}_country (code text primary key)`);
      await client.query(`create table public.${t}_region (id int primary key, country text references public.${t}_country)`);
      for (const statement of citusTable(t, `, region int references public.${t}_region`)) await client.query(statement);
      return citusLayout(client);
    });
    expect(layout.distributed).toContain(`public.${t}`);
    expect(layout.reference).toEqual(expect.arrayContaining([`public.${t}_country`, `public.${t}_region`]));
  });
});

describe('the migrated catalog with the standard policy form', () => {
  it('has exactly the subqueries of the standard policies: USING and WITH CHECK of tenant_isolation on every tenant table', async () => {
    const problems = await withOwnerClient((client) => citusPolicySubqueryProblems(catalogReader(client)));
    const expected = tenantTables.flatMap((t) =>
      ['USING', 'WITH CHECK'].map(
        (clause) =>
          `${t.qualifiedName}: policy tenant_isolation has a subquery in ${clause} ((${t.tenantColumn} = ( SELECT app.current_tenant_id() AS current_tenant_id))), which Citus rejects in the policies of distributed and reference tables. Fix: switch the policies to the Citus form (\`npm run cli -- tenant-policies --form citus\`, then TENANT_CONTEXT_MODE=citus).`,
      ),
    );
    expect(problems).toEqual(expected);
  });

  it('has exactly one policy function finding: the operator branch of app.current_tenant_id()', async () => {
    const problems = await withOwnerClient((client) => citusPolicyFunctionProblems(catalogReader(client)));
    expect(problems).toEqual([operatorBranchFinding(tenantTables.length)]);
  });

  it.each(CITUS_RULES.filter((rule) => !['policy subqueries', 'policy functions'].includes(rule.name)).map((rule) => [rule.name, rule] as const))(
    'has no %s problem',
    async (_name, rule) => {
      expect(await withOwnerClient((client) => rule.run(catalogReader(client)))).toEqual([]);
    },
  );
});

describe('a database switched to the Citus policy form', () => {
  let database: TestDatabase;
  let owner: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    owner = new pg.Client({ connectionString: database.ownerUrl });
    await owner.connect();
    // The operator step, as the CLI takes it.
    const env = { DATABASE_URL: database.ownerUrl, DATABASE_URL_APP: database.appUrl, DATABASE_URL_OPERATOR: database.operatorUrl };
    const result = await runCliInProcess(['tenant-policies', '--form', 'citus'], env);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`citus policy form on ${(await listTenantTables(owner)).length} tenant tables: public.audit_events,`);
  });
  afterAll(async () => {
    await owner?.end();
    await database?.drop();
  });

  it('passes every rule, but for the operator branch of app.current_tenant_id()', async () => {
    expect(await findCitusProblems(owner)).toEqual([operatorBranchFinding((await listTenantTables(owner)).length)]);
  });

  it('has policies tenant_id = app.current_tenant_id() on every tenant table, USING and WITH CHECK', async () => {
    const { rows } = await owner.query<{ name: string; using: string; check: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name, pg_get_expr(p.polqual, p.polrelid) as using, pg_get_expr(p.polwithcheck, p.polrelid) as check
         from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
        where p.polname = 'tenant_isolation' and not p.polpermissive order by 1`,
    );
    const tables = await listTenantTables(owner);
    expect(rows).toEqual(
      tables.map((t) => ({
        name: t.qualifiedName,
        using: `(${t.tenantColumn} = app.current_tenant_id())`,
        check: `(${t.tenantColumn} = app.current_tenant_id())`,
      })),
    );
  });

  it('satisfies the start-up check in Citus mode, and only in Citus mode', async () => {
    expect(await findCatalogProblems(owner, APP_ROLE, 'citus')).toEqual([]);
    const standard = await findCatalogProblems(owner, APP_ROLE, 'standard');
    expect(standard).toHaveLength((await listTenantTables(owner)).length);
    expect(standard[0]).toMatch(/no RESTRICTIVE policy .* exactly \((id|tenant_id) = \(SELECT app\.current_tenant_id\(\)\)\)/);
  });

  it('isolates tenants with the Citus prologue (SET LOCAL) and policies, as the app role', async () => {
    const [a, b] = ['7100000000000001', '7100000000000002'];
    await owner.query(`insert into tenants (id, name) values (${a}, 'citus a'), (${b}, 'citus b') on conflict do nothing`);
    for (const tenant of [a, b]) {
      await owner.query('begin');
      await owner.query(`set local app.current_tenant = '${tenant}'`);
      await owner.query(`insert into users (email, display_name) values ('member@${tenant}.test', 'member')`);
      await owner.query('commit');
    }
    const app = new pg.Client({ connectionString: database.appUrl });
    await app.connect();
    try {
      const mode = { readOnly: false, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000, tenantContext: 'citus' } as const;
      const prologue = buildTransactionPrologue({ tenantId: a, userId: null }, mode);
      expect(prologue).toBe(
        `start transaction read write;set local app.current_tenant = '${a}';select * from app.enter_tenant('${a}',null,5000,5000)`,
      );
      await app.query(prologue);
      const { rows } = await app.query<{ email: string }>('select email from users order by email');
      expect(rows.map((r) => r.email)).toEqual([`member@${a}.test`]);
      await expect(app.query(`insert into users (tenant_id, email, display_name) values (${b}, 'x@x.test', 'x')`)).rejects.toThrow(
        /row-level security/,
      );
      await app.query('rollback');
      // A generic plan (the API's prepared path) does not freeze the tenant that planned it: the STABLE function is
      // evaluated at each execution, tenant a then b on one connection and one prepared statement.
      await app.query('set plan_cache_mode = force_generic_plan');
      await app.query('prepare emails as select email from users order by email');
      for (const tenant of [a, b, a]) {
        await app.query(buildTransactionPrologue({ tenantId: tenant, userId: null }, mode));
        const executed = await app.query<{ email: string }>('execute emails');
        expect(executed.rows.map((r) => r.email)).toEqual([`member@${tenant}.test`]);
        await app.query('rollback');
      }
      const { rows: plans } = await app.query<{ generic_plans: string }>("select generic_plans from pg_prepared_statements where name = 'emails'");
      expect(Number(plans[0]!.generic_plans)).toBe(3);
    } finally {
      await app.end();
    }
  });

  it('enters a remembered tenant for an external id only while that tenant has it (app.enter_tenant, five arguments)', async () => {
    const [a, b] = ['7100000000000003', '7100000000000004'];
    const org = `org_${scratchName()}`;
    await owner.query(`insert into tenants (id, name) values (${a}, 'citus c'), (${b}, 'citus d') on conflict do nothing`);
    await owner.query('update tenants set external_id = $2 where id = $1', [a, org]);
    const app = new pg.Client({ connectionString: database.appUrl });
    await app.connect();
    try {
      const mode = { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000, tenantContext: 'citus' } as const;
      // A multi-statement string: pg returns one result per statement, app.enter_tenant's is the last.
      const results = (await app.query(buildTransactionPrologue({ tenantId: org, userId: null }, mode, a))) as unknown as pg.QueryResult[];
      expect(results.at(-1)!.rows).toEqual([{ entered_tenant: a, entered_user: null }]);
      expect((await app.query<{ id: string }>('select id from tenants')).rows).toEqual([{ id: a }]);
      await app.query('rollback');
      // Stale mappings are refused, naming no tenant: b remembered while a has the external id, then a remembered after it moved to b.
      for (const [remembered, holder] of [
        [b, a],
        [a, b],
      ] as const) {
        await owner.query('update tenants set external_id = null where external_id = $1', [org]);
        await owner.query('update tenants set external_id = $2 where id = $1', [holder, org]);
        await expect(app.query(buildTransactionPrologue({ tenantId: org, userId: null }, mode, remembered))).rejects.toMatchObject({
          code: 'TG002',
          detail: 'stale_external_id',
        });
        await app.query('rollback');
      }
      // A deleted tenant shows no row under RLS: refused the same way.
      await owner.query('update tenants set external_id = null where external_id = $1', [org]);
      await expect(app.query(buildTransactionPrologue({ tenantId: org, userId: null }, mode, '7100000000000999'))).rejects.toMatchObject({
        code: 'TG002',
        detail: 'stale_external_id',
      });
      await app.query('rollback');
    } finally {
      await app.end();
    }
  });

  it('goes back to the standard form, which the standard start-up check accepts again', async () => {
    const client = new pg.Client({ connectionString: database.ownerUrl });
    await client.connect();
    try {
      await client.query('begin');
      for (const table of await listTenantTables(client))
        await client.query('select app.set_tenant_policy_form($1, $2)', [table.qualifiedName, 'standard']);
      expect(await findCatalogProblems(client)).toEqual([]);
      expect((await findCitusProblems(client)).length).toBe(2 * (await listTenantTables(client)).length + 1);
    } finally {
      await client.query('rollback');
      await client.end();
    }
  });
});

describe('the start-up check in Citus mode', () => {
  it('refuses the standard policy form of every tenant table, naming the CLI step', async () => {
    const problems = await withOwnerClient((client) => rowSecurityProblems(catalogReader(client), 'citus'));
    expect(problems).toHaveLength(tenantTables.length);
    for (const problem of problems) expect(problem).toContain('`npm run cli -- tenant-policies --form citus`');
  });
});

describe('buildTransactionPrologue in Citus mode', () => {
  const mode = { readOnly: true, statementTimeoutMs: 1, idleInTransactionTimeoutMs: 1, tenantContext: 'citus' } as const;

  it('refuses an external tenant id without the tenant id remembered for it, which SET LOCAL must name first', () => {
    expect(() => buildTransactionPrologue({ tenantId: 'org_2abc', userId: null }, mode)).toThrow(
      /TENANT_CONTEXT_MODE=citus .* an external tenant id \("org_2abc"\) needs the tenant id remembered for it/,
    );
  });

  it('applies the remembered tenant id with SET LOCAL and hands the external id to app.enter_tenant to check', () => {
    expect(buildTransactionPrologue({ tenantId: 'org_2abc', userId: 'user_9' }, mode, '42')).toBe(
      "start transaction read only;set local app.current_tenant = '42';select * from app.enter_tenant('42','user_9',1,1,'org_2abc')",
    );
  });

  it('takes a remembered tenant id only for an external id in Citus mode, and only digits', () => {
    expect(() => buildTransactionPrologue({ tenantId: 'org_2abc', userId: null }, mode, "42'; drop table users; --")).toThrow(TypeError);
    expect(() => buildTransactionPrologue({ tenantId: '7', userId: null }, mode, '42')).toThrow(/knownTenantId is the tenant id behind an external/);
    expect(() => buildTransactionPrologue({ tenantId: 'org_2abc', userId: null }, { ...mode, tenantContext: 'standard' }, '42')).toThrow(
      /in standard mode/,
    );
  });
});

describe('cli tenant-policies', () => {
  it('refuses a form it does not know (exit status 2)', async () => {
    const result = await runCliInProcess(['tenant-policies', '--form', 'sharded'], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--form must be citus or standard, received "sharded"');
  });
});

describe('app.set_tenant_policy_form', () => {
  it('refuses an unknown form and a table without the tenant policy', async () => {
    const t = scratchName();
    await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t} (tenant_id bigint not null)`);
      await client.query('savepoint s');
      await expect(client.query(`select app.set_tenant_policy_form('public.${t}', 'citus')`)).rejects.toThrow(
        `public.${t} has no RESTRICTIVE policy tenant_isolation`,
      );
      await client.query('rollback to savepoint s');
      await expect(client.query(`select app.set_tenant_policy_form('public.users', 'sharded')`)).rejects.toThrow(
        "policy form must be 'citus' or 'standard', received 'sharded'",
      );
    });
  });

  it('may be executed by the owner only', async () => {
    const { rows } = await withOwnerClient((client) =>
      client.query<{ app: boolean; operator: boolean }>(
        `select has_function_privilege('tenantgraph_app', 'app.set_tenant_policy_form(regclass, text)', 'EXECUTE') as app,
                has_function_privilege('tenantgraph_operator', 'app.set_tenant_policy_form(regclass, text)', 'EXECUTE') as operator`,
      ),
    );
    expect(rows).toEqual([{ app: false, operator: false }]);
  });
});

describe('citusPolicySubqueryProblems', () => {
  it('reports a subquery however it is spelled (EXISTS, IN, scalar), in USING and WITH CHECK, and not the Citus form (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      for (const statement of citusTable(`${t}_ok`)) await client.query(statement);
      for (const [suffix, using, check] of [
        ['exists', 'exists (select 1 from public.tenants where id = tenant_id)', 'true'],
        ['in', 'tenant_id in (select app.current_tenant_id())', 'tenant_id in (select app.current_tenant_id())'],
        ['check', 'tenant_id = app.current_tenant_id()', 'tenant_id = (select app.current_tenant_id())'],
      ] as const) {
        await client.query(`create table public.${t}_${suffix} (tenant_id bigint not null)`);
        await client.query(`create policy p on public.${t}_${suffix} using (${using}) with check (${check})`);
      }
      return citusPolicySubqueryProblems(catalogReader(client));
    });
    const mine = about(problems, t).map((p) => p.slice(0, p.indexOf(' (')));
    expect(mine).toEqual([
      `public.${t}_check: policy p has a subquery in WITH CHECK`,
      `public.${t}_exists: policy p has a subquery in USING`,
      `public.${t}_in: policy p has a subquery in USING`,
      `public.${t}_in: policy p has a subquery in WITH CHECK`,
    ]);
  });
});

describe('citusPolicyFunctionProblems', () => {
  it('reports a VOLATILE, a SECURITY DEFINER and a table-reading function, and passes a settings-only STABLE one (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      const functions = {
        volatile: `language sql volatile as $$ select nullif(current_setting('app.current_tenant', true), '')::bigint $$`,
        definer: `language sql stable security definer as $$ select nullif(current_setting('app.current_tenant', true), '')::bigint $$`,
        // An apostrophe in a comment must not swallow the FROM after it as a string literal.
        reads: `language plpgsql stable as $$ begin -- the tenant's row
                  return (select min(id) from public.tenants where name <> 'x'); end $$`,
        // SQL-standard body: the dependency on the table is recorded, whatever the text says.
        atomic: `language sql stable begin atomic select min(id) from public.tenants; end`,
        // Keywords inside string literals and comments are not reads.
        settings: `language plpgsql stable as $$ begin -- not from a table
                     return nullif(current_setting('app.current_tenant', true), 'from x join y')::bigint; end $$`,
      };
      for (const [name, body] of Object.entries(functions)) {
        await client.query(`create function app.${t}_${name}() returns bigint ${body}`);
        await client.query(`create table public.${t}_${name} (tenant_id bigint not null)`);
        await client.query(`create policy p on public.${t}_${name} as restrictive using (tenant_id = app.${t}_${name}())`);
      }
      return citusPolicyFunctionProblems(catalogReader(client));
    });
    // "app.x_reads(), called by policy p on public.x_reads, reads a table, which …" -> "app.x_reads() reads a table"
    expect(about(problems, t).map((p) => p.replace(/, called by [^,]*, /, ' ').replace(/[,.] .*$/, ''))).toEqual([
      `app.${t}_atomic() reads a table`,
      `app.${t}_definer() is SECURITY DEFINER`,
      `app.${t}_reads() reads a table`,
      `app.${t}_volatile() is VOLATILE`,
    ]);
  });
});

describe('citusForeignKeyProblems', () => {
  it('reports a key between distributed tables without tenant_id, and one from a local table to a distributed one (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      for (const statement of citusTable(`${t}_parent`, ', code text not null unique')) await client.query(statement);
      // Paired tenant_id: both rows on one shard.
      for (const statement of citusTable(`${t}_good`, ', parent uuid not null')) await client.query(statement);
      await client.query(`alter table public.${t}_good add foreign key (tenant_id, parent) references public.${t}_parent (tenant_id, id)`);
      // Without tenant_id: the parent's code is unique across tenants, so PostgreSQL accepts the key, Citus cannot.
      for (const statement of citusTable(`${t}_bad`, ', parent_code text')) await client.query(statement);
      await client.query(`alter table public.${t}_bad add constraint ${t}_bad_cross foreign key (parent_code) references public.${t}_parent (code)`);
      // A table that is no tenant table refers to a distributed one.
      await client.query(
        `create table public.${t}_local (ref_tenant bigint, ref uuid, foreign key (ref_tenant, ref) references public.${t}_parent (tenant_id, id))`,
      );
      return citusForeignKeyProblems(catalogReader(client));
    });
    expect(
      about(problems, t)
        .map((p) => p.slice(0, p.indexOf(' (')))
        .sort(),
    ).toEqual([`public.${t}_bad: foreign key ${t}_bad_cross`, `public.${t}_local: foreign key ${t}_local_ref_tenant_ref_fkey`]);
    expect(about(problems, `${t}_local:`)[0]).toContain('points from a table that is not distributed');
  });
});

describe('citusUniqueKeyProblems', () => {
  it('reports a unique index and a primary key without tenant_id, not one with it in second place (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      for (const statement of citusTable(t, ', code text, email text')) await client.query(statement);
      await client.query(`create unique index ${t}_code_key on public.${t} (code)`);
      await client.query(`create unique index ${t}_email_key on public.${t} (lower(email), tenant_id)`);
      await client.query(`create table public.${t}_pk (tenant_id bigint not null, id int primary key)`);
      // Reference tables may have any key: tenants' external id is one (migrations/0012).
      return citusUniqueKeyProblems(catalogReader(client));
    });
    expect(about(problems, t).map((p) => p.slice(0, p.indexOf(' (')))).toEqual([
      `public.${t}: unique index ${t}_code_key`,
      `public.${t}_pk: unique index ${t}_pk_pkey`,
    ]);
  });
});
