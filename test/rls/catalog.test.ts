import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogReader } from '../../src/db/catalog-reader.js';
import { OPERATOR_ROLE } from '../../src/db/operator-role.js';
import {
  APP_ROLE,
  CATALOG_CHECKS,
  findCatalogProblems,
  foreignKeyProblems,
  grantProblems,
  indexProblems,
  keyProblems,
  listPolicyFunctions,
  listTenantTables,
  operatorRoleProblems,
  policyFunctionProblems,
  rlsBypassProblems,
  roleProblems,
  rowSecurityProblems,
  tenantColumnProblems,
} from '../../src/db/tenant-catalog.js';
import { about, inRolledBackTransaction, scratchName } from '../support/scratch-catalog.js';
import { snapshotTenants, withAppClient, withOwnerClient } from '../support/owner-db.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// The database's own description of itself (pg_catalog) must show that every tenant table is isolated by Row
// Level Security and that the app role cannot get around it. The checks are the product's (src/db/tenant-catalog.ts,
// which start-up runs in full); this file asserts on the very same functions. Each check has a negative control
// that builds broken objects inside a transaction that is rolled back and looks only at the problems naming its
// own scratch objects, so a real problem of the migrated schema fails the one test of its check, not the controls.

/** A tenant table as the README's checklist makes one, with the one-line RLS helper of migrations/0009. */
const sound = (table: string) => [
  `create table public.${table} (tenant_id bigint not null default app.current_tenant_id() references public.tenants (id),
                                 id uuid not null default gen_random_uuid(), primary key (tenant_id, id))`,
  `select app.enable_tenant_rls('public.${table}')`,
  `grant select on public.${table} to ${APP_ROLE}, ${OPERATOR_ROLE}`,
];

describe('the migrated catalog', () => {
  it.each(CATALOG_CHECKS.map((check) => [check.name, check] as const))('has no %s problem', async (_name, check) => {
    expect(await withOwnerClient((client) => check.run(catalogReader(client), APP_ROLE))).toEqual([]);
  });

  it('findCatalogProblems reports exactly what every check reports, in the order of CATALOG_CHECKS', async () => {
    const table = scratchName();
    const { all, each } = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${table} (tenant_id bigint)`);
      await client.query(`create index ${table}_idx on public.${table} ((1))`);
      await client.query(`create view public.${table}_v as select 1`);
      await client.query(`grant select on public.${table}_v to ${APP_ROLE}`);
      const each: string[] = [];
      for (const check of CATALOG_CHECKS) each.push(...(await check.run(catalogReader(client), APP_ROLE)));
      return { all: await findCatalogProblems(client), each };
    });
    const mine = (problems: string[]) => problems.filter((problem) => problem.includes(table));
    expect(mine(all)).toEqual(mine(each));
    // Row security (3), tenant column (2), index, grants, RLS bypass, and the operator lacking the view's grant.
    expect(mine(all)).toHaveLength(9);
  });
});

describe('listTenantTables', () => {
  it('lists tenants, users, conversations, messages and audit_events with their tenant column', async () => {
    const tables = await withOwnerClient(listTenantTables);
    expect(tables).toEqual(
      expect.arrayContaining([
        { schema: 'public', table: 'tenants', qualifiedName: 'public.tenants', tenantColumn: 'id' },
        { schema: 'public', table: 'users', qualifiedName: 'public.users', tenantColumn: 'tenant_id' },
        { schema: 'public', table: 'conversations', qualifiedName: 'public.conversations', tenantColumn: 'tenant_id' },
        { schema: 'public', table: 'messages', qualifiedName: 'public.messages', tenantColumn: 'tenant_id' },
        { schema: 'public', table: 'audit_events', qualifiedName: 'public.audit_events', tenantColumn: 'tenant_id' },
      ]),
    );
    // Not tenant tables: their tenant columns are named otherwise on purpose (migrations/0006–0008).
    expect(tables.map((t) => t.table)).not.toEqual(expect.arrayContaining(['refused_context_switches']));
    expect(tables.map((t) => t.table)).not.toContain('operator_sessions');
    expect(tables.map((t) => t.table)).not.toContain('plan_limits');
  });

  it('lists a new table with tenant_id the moment it exists, in any schema (negative control)', async () => {
    const table = scratchName();
    const tables = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${table} (tenant_id bigint)`);
      await client.query(`create table app.${table} (tenant_id bigint)`);
      await client.query(`create table public.${table}_other (claimed_tenant_id bigint)`);
      return listTenantTables(client);
    });
    expect(
      tables
        .map((t) => t.qualifiedName)
        .filter((name) => name.includes(table))
        .sort(),
    ).toEqual([`app.${table}`, `public.${table}`]);
  });
});

describe('rowSecurityProblems', () => {
  it('reports no RLS, RLS not forced, a permissive-only policy and a RESTRICTIVE USING (true) (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t}_bare (tenant_id bigint not null)`);
      await client.query(`create table public.${t}_unforced (tenant_id bigint not null)`);
      await client.query(`alter table public.${t}_unforced enable row level security`);
      await client.query(
        `create policy tenant_isolation on public.${t}_unforced as restrictive using (tenant_id = (select app.current_tenant_id())) with check (tenant_id = (select app.current_tenant_id()))`,
      );
      await client.query(`create table public.${t}_permissive (tenant_id bigint not null)`);
      await client.query(`alter table public.${t}_permissive enable row level security, force row level security`);
      await client.query(`create policy open on public.${t}_permissive using (tenant_id = (select app.current_tenant_id()))`);
      await client.query(`create table public.${t}_true (tenant_id bigint not null)`);
      await client.query(`alter table public.${t}_true enable row level security, force row level security`);
      await client.query(`create policy tenant_rows on public.${t}_true using (true) with check (true)`);
      await client.query(`create policy tenant_isolation on public.${t}_true as restrictive using (true) with check (true)`);
      // USING right, WITH CHECK wide open: rows of another tenant could be written.
      await client.query(`create table public.${t}_check (tenant_id bigint not null)`);
      await client.query(`alter table public.${t}_check enable row level security, force row level security`);
      await client.query(
        `create policy tenant_isolation on public.${t}_check as restrictive using (tenant_id = (select app.current_tenant_id())) with check (true)`,
      );
      return rowSecurityProblems(catalogReader(client));
    });
    const noPolicy = (table: string) =>
      `public.${table}: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK exactly (tenant_id = (SELECT app.current_tenant_id())), so nothing confines its rows to one tenant. Fix: add \`SELECT app.enable_tenant_rls('public.${table}');\` to a migration (drop a hand-written tenant_isolation policy first).`;
    expect(about(problems, t)).toEqual(
      [
        `public.${t}_bare: Row Level Security is not enabled. Fix: add \`SELECT app.enable_tenant_rls('public.${t}_bare');\` to a migration.`,
        `public.${t}_bare: Row Level Security is not forced, so the table's owner bypasses it. Fix: ALTER TABLE public.${t}_bare FORCE ROW LEVEL SECURITY (app.enable_tenant_rls does it).`,
        noPolicy(`${t}_bare`),
        `public.${t}_unforced: Row Level Security is not forced, so the table's owner bypasses it. Fix: ALTER TABLE public.${t}_unforced FORCE ROW LEVEL SECURITY (app.enable_tenant_rls does it).`,
        noPolicy(`${t}_permissive`),
        noPolicy(`${t}_true`),
        noPolicy(`${t}_check`),
      ].sort(),
    );
  });

  it('accepts app.enable_tenant_rls plus a narrower permissive policy (per-user visibility)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      for (const statement of sound(t)) await client.query(statement);
      await client.query(`alter table public.${t} add column owner_id uuid`);
      await client.query(
        `create policy own_rows on public.${t} for select using (owner_id = nullif(current_setting('app.current_user', true), '')::uuid)`,
      );
      return findCatalogProblems(client);
    });
    expect(about(problems, t)).toEqual([]);
  });
});

describe('tenantColumnProblems', () => {
  it('reports a nullable tenant_id and one without the current tenant as default (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t}_nullable (tenant_id bigint default app.current_tenant_id())`);
      await client.query(`create table public.${t}_nodefault (tenant_id bigint not null)`);
      await client.query(`create table public.${t}_fixed (tenant_id bigint not null default 1)`);
      return tenantColumnProblems(catalogReader(client));
    });
    expect(about(problems, t)).toEqual(
      [
        `public.${t}_nullable: tenant_id is nullable, and a row without a tenant belongs to no one's policy. Fix: ALTER TABLE public.${t}_nullable ALTER COLUMN tenant_id SET NOT NULL.`,
        `public.${t}_nodefault: tenant_id defaults to nothing, expected app.current_tenant_id(), so an insert that names no tenant gets the transaction's. Fix: ALTER TABLE public.${t}_nodefault ALTER COLUMN tenant_id SET DEFAULT app.current_tenant_id().`,
        `public.${t}_fixed: tenant_id defaults to 1, expected app.current_tenant_id(), so an insert that names no tenant gets the transaction's. Fix: ALTER TABLE public.${t}_fixed ALTER COLUMN tenant_id SET DEFAULT app.current_tenant_id().`,
      ].sort(),
    );
  });
});

describe('keyProblems, indexProblems and foreignKeyProblems', () => {
  it('report a key, an index and a foreign key without the tenant column, each once (negative control)', async () => {
    const parent = scratchName();
    const child = scratchName();
    const { keys, indexes, foreignKeys } = await inRolledBackTransaction(async (client) => {
      const reader = catalogReader(client);
      await client.query(`create table public.${parent} (tenant_id bigint not null, id uuid not null, primary key (tenant_id, id), unique (id))`);
      await client.query(
        `create table public.${child} (tenant_id bigint not null, parent_id uuid references public.${parent} (id), created_at timestamptz)`,
      );
      await client.query(`create index ${child}_created_idx on public.${child} (created_at, tenant_id)`);
      await client.query(`create unique index ${child}_parent_idx on public.${child} (parent_id, tenant_id)`);
      return { keys: await keyProblems(reader), indexes: await indexProblems(reader), foreignKeys: await foreignKeyProblems(reader) };
    });
    expect(about(keys, parent)).toEqual([
      expect.stringMatching(
        new RegExp(`^public\\.${parent}: key ${parent}_id_key does not lead with tenant_id .*Fix: make it \\(tenant_id, …\\)\\.$`),
      ),
    ]);
    expect(about(keys, child)).toEqual([expect.stringMatching(new RegExp(`^public\\.${child}: key ${child}_parent_idx does not lead`))]);
    expect([...about(indexes, parent), ...about(indexes, child)]).toEqual([
      expect.stringMatching(new RegExp(`^public\\.${child}: index ${child}_created_idx does not lead with tenant_id .*Fix: recreate it`)),
    ]);
    expect(about(foreignKeys, child)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^public\\.${child}: foreign key ${child}_parent_id_fkey does not include the tenant column .*Fix: FOREIGN KEY \\(tenant_id, …\\) REFERENCES public\\.${parent} \\(tenant_id, …\\)\\.$`,
        ),
      ),
    ]);
  });
});

describe('policyFunctionProblems', () => {
  it('finds app.current_tenant_id() among the policy functions', async () => {
    const functions = await withOwnerClient((client) => listPolicyFunctions(catalogReader(client)));
    expect(functions.map((f) => f.fn)).toContain('app.current_tenant_id()');
  });

  it('reports an IMMUTABLE function used by a policy (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create function app.${table}_tenant() returns bigint language sql immutable as 'select 1::bigint'`);
      await client.query(`create table public.${table} (tenant_id bigint not null)`);
      await client.query(`create policy frozen on public.${table} as restrictive using (tenant_id = (select app.${table}_tenant()))`);
      return policyFunctionProblems(catalogReader(client));
    });
    expect(about(problems, table)).toEqual([
      `app.${table}_tenant(), called by policy frozen on public.${table}, is IMMUTABLE, not STABLE. Fix: ALTER FUNCTION app.${table}_tenant() STABLE.`,
    ]);
  });
});

describe('grantProblems', () => {
  it('reports a tenant table the app role cannot SELECT, a schema it cannot use and a policy function it cannot run (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t}_ungranted (tenant_id bigint not null default app.current_tenant_id())`);
      await client.query(`select app.enable_tenant_rls('public.${t}_ungranted')`);
      await client.query(`create schema ${t}`);
      await client.query(`create table ${t}.hidden (tenant_id bigint not null default app.current_tenant_id())`);
      await client.query(`grant select on ${t}.hidden to ${APP_ROLE}`);
      await client.query(`create function app.${t}_tenant() returns bigint language sql stable as 'select 1::bigint'`);
      await client.query(`revoke all on function app.${t}_tenant() from public`);
      await client.query(`create table public.${t}_fn (tenant_id bigint not null)`);
      await client.query(`grant select on public.${t}_fn to ${APP_ROLE}`);
      await client.query(`create policy p on public.${t}_fn as restrictive using (tenant_id = (select app.${t}_tenant()))`);
      return grantProblems(catalogReader(client), APP_ROLE);
    });
    expect(about(problems, t)).toEqual(
      [
        `${APP_ROLE} cannot SELECT from public.${t}_ungranted, so every request reading it fails with "permission denied". Fix: GRANT SELECT (and the DML its module needs) ON public.${t}_ungranted TO ${APP_ROLE}, ${OPERATOR_ROLE}.`,
        `${APP_ROLE} has no USAGE on schema ${t}, which holds the tenant table ${t}.hidden. Fix: GRANT USAGE ON SCHEMA ${t} TO ${APP_ROLE}, ${OPERATOR_ROLE}.`,
        `${APP_ROLE} may not execute app.${t}_tenant(), which the policies of tenant tables call. Fix: GRANT EXECUTE ON FUNCTION app.${t}_tenant() TO ${APP_ROLE}, ${OPERATOR_ROLE}.`,
      ].sort(),
    );
  });
});

describe('rlsBypassProblems', () => {
  it('reports a view without security_invoker and a SECURITY DEFINER function the app role can reach (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create view public.${t}_owner_view as select * from public.messages`);
      await client.query(`grant select on public.${t}_owner_view to ${APP_ROLE}`);
      await client.query(`create view public.${t}_invoker_view with (security_invoker = true) as select * from public.messages`);
      await client.query(`grant select on public.${t}_invoker_view to ${APP_ROLE}`);
      await client.query(`create view public.${t}_unreachable_view as select * from public.messages`);
      await client.query(`create function app.${t}_definer() returns bigint language sql security definer as 'select count(*) from public.messages'`);
      await client.query(`grant execute on function app.${t}_definer() to ${APP_ROLE}`);
      // Like app.claim_operator_session: SECURITY DEFINER, executable by no one but the owner (and whom it names).
      await client.query(`create function app.${t}_owner_only() returns bigint language sql security definer as 'select 1::bigint'`);
      await client.query(`revoke all on function app.${t}_owner_only() from public`);
      return rlsBypassProblems(catalogReader(client), APP_ROLE);
    });
    expect(about(problems, t)).toEqual(
      [
        `${APP_ROLE} can use view ${t}_owner_view, which lacks security_invoker, so it reads its tables as its owner past Row Level Security. Fix: ALTER VIEW ${t}_owner_view SET (security_invoker = true), or revoke it.`,
        `${APP_ROLE} may execute SECURITY DEFINER function app.${t}_definer(), which runs as its owner and so bypasses Row Level Security. Fix: REVOKE EXECUTE ON FUNCTION app.${t}_definer() FROM PUBLIC, ${APP_ROLE} (or make it SECURITY INVOKER).`,
      ].sort(),
    );
  });

  it('finds app.claim_operator_session out of the app role’s reach', async () => {
    const { rows } = await withOwnerClient((client) =>
      client.query<{ app: boolean; operator: boolean }>(
        `select has_function_privilege($1, 'app.claim_operator_session(uuid, timestamptz)', 'EXECUTE') as app,
                has_function_privilege($2, 'app.claim_operator_session(uuid, timestamptz)', 'EXECUTE') as operator`,
        [APP_ROLE, OPERATOR_ROLE],
      ),
    );
    expect(rows).toEqual([{ app: false, operator: true }]);
  });
});

describe('the external-id lookup of migrations/0012 (the one allowed SECURITY DEFINER function)', () => {
  const RESOLVER = 'app.tenant_id_by_external_id(text)';
  const resolverProblem = (role: string) =>
    `${role} may execute SECURITY DEFINER function ${RESOLVER}, which runs as its owner and so bypasses Row Level Security. Fix: REVOKE EXECUTE ON FUNCTION ${RESOLVER} FROM PUBLIC, ${role} (or make it SECURITY INVOKER).`;

  it('is executable by the app role and not by the operator, and passes as migrated', async () => {
    const { rows } = await withOwnerClient((client) =>
      client.query<{ app: boolean; operator: boolean }>(
        `select has_function_privilege($1, '${RESOLVER}', 'EXECUTE') as app, has_function_privilege($2, '${RESOLVER}', 'EXECUTE') as operator`,
        [APP_ROLE, OPERATOR_ROLE],
      ),
    );
    expect(rows).toEqual([{ app: true, operator: false }]);
    const problems = await withOwnerClient((client) => rlsBypassProblems(catalogReader(client), APP_ROLE));
    expect(problems.filter((p) => p.includes('tenant_id_by_external_id'))).toEqual([]);
  });

  it.each([
    ['made VOLATILE', `alter function ${RESOLVER} volatile`],
    ['without its pinned search_path', `alter function ${RESOLVER} reset search_path`],
    [
      'returning more than an id',
      `drop function ${RESOLVER}; create function app.tenant_id_by_external_id(external text) returns text language sql stable security definer set search_path = pg_catalog, pg_temp as 'select name from public.tenants where external_id = external'; grant execute on function ${RESOLVER} to ${APP_ROLE}`,
    ],
  ])('is reported once %s (negative control)', async (_case, change) => {
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(change);
      return rlsBypassProblems(catalogReader(client), APP_ROLE);
    });
    expect(problems).toContain(resolverProblem(APP_ROLE));
  });

  it('allows no other function of the same shape (negative control)', async () => {
    const t = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(
        `create function app.${t}_lookup(external text) returns bigint language sql stable security definer set search_path = pg_catalog, pg_temp as 'select id from public.tenants where external_id = external'`,
      );
      await client.query(`grant execute on function app.${t}_lookup(text) to ${APP_ROLE}`);
      return rlsBypassProblems(catalogReader(client), APP_ROLE);
    });
    expect(about(problems, t)).toHaveLength(1);
  });

  it('makes tenants_external_id_key a key problem as soon as the app role may write tenants (negative control)', async () => {
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`grant update (name) on public.tenants to ${APP_ROLE}`);
      return keyProblems(catalogReader(client));
    });
    expect(problems.filter((p) => p.includes('tenants_external_id_key'))).toHaveLength(1);
    const migrated = await withOwnerClient((client) => keyProblems(catalogReader(client)));
    expect(migrated.filter((p) => p.includes('tenants_external_id_key'))).toEqual([]);
  });
});

describe('app.enable_tenant_rls (migrations/0009)', () => {
  it('gives a scratch table exactly the policies of migrations/0002, which isolate it for the app role', async () => {
    const t = scratchName();
    const { policies, problems, seen } = await inRolledBackTransaction(async (client) => {
      for (const statement of sound(t)) await client.query(statement);
      const { rows: policies } = await client.query(
        `select policyname, permissive, cmd, roles::text[] as roles, qual, with_check from pg_policies where tablename = $1 order by policyname`,
        [t],
      );
      const problems = await findCatalogProblems(client);
      const { rows: tenants } = await client.query<{ id: string }>(
        `insert into public.tenants (name) values ('${t} a'), ('${t} b') returning id::text`,
      );
      await client.query(`insert into public.${t} (tenant_id) select unnest($1::bigint[])`, [tenants.map((r) => r.id)]);
      const tenant = tenants[0];
      await client.query(`set local role ${APP_ROLE}`);
      await client.query("select set_config('app.current_tenant', $1, true)", [tenant!.id]);
      const { rows: seen } = await client.query<{ tenant_id: string }>(`select tenant_id::text from public.${t}`);
      return { policies, problems, seen: { rows: seen.map((r) => r.tenant_id), tenant: tenant!.id } };
    });
    const equality = '(tenant_id = ( SELECT app.current_tenant_id() AS current_tenant_id))';
    expect(policies).toEqual([
      { policyname: 'tenant_isolation', permissive: 'RESTRICTIVE', cmd: 'ALL', roles: ['public'], qual: equality, with_check: equality },
      { policyname: 'tenant_rows', permissive: 'PERMISSIVE', cmd: 'ALL', roles: ['public'], qual: 'true', with_check: 'true' },
    ]);
    expect(about(problems, t)).toEqual([]);
    expect(seen.rows).toEqual([seen.tenant]);
  });

  it('refuses a table without a NOT NULL tenant_id', async () => {
    const t = scratchName();
    const error = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${t} (id int)`);
      return client.query(`select app.enable_tenant_rls('public.${t}')`).then(
        () => null,
        (caught: pg.DatabaseError) => caught,
      );
    });
    expect(error?.message).toBe(`public.${t} has no NOT NULL tenant_id column`);
  });

  it('cannot be executed by the app role', async () => {
    const error = await withAppClient((client) =>
      client.query("select app.enable_tenant_rls('messages')").then(
        () => null,
        (caught: pg.DatabaseError) => caught,
      ),
    );
    expect(error?.code).toBe('42501');
    expect(error?.message).toBe('permission denied for function enable_tenant_rls');
  });

  it('replaces app.current_user_id(), which nothing used and which is dropped', async () => {
    const { rows } = await withOwnerClient((client) => client.query(`select to_regprocedure('app.current_user_id()') as fn`));
    expect(rows).toEqual([{ fn: null }]);
  });
});

describe(`roleProblems (${APP_ROLE})`, () => {
  it('is not a member of the role that owns the tenant tables', async () => {
    const { rows } = await withOwnerClient((client) =>
      client.query<{ owner: string; member: boolean }>(
        `select pg_get_userbyid(relowner) as owner, pg_has_role($1, relowner, 'MEMBER') as member
           from pg_class where oid = 'public.tenants'::regclass`,
        [APP_ROLE],
      ),
    );
    expect(rows[0]!.owner).not.toBe(APP_ROLE);
    expect(rows[0]!.member).toBe(false);
  });

  it('reports ownership, a reachable table without tenant_id, free text in a sink (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create table public.${table}_owned (id int)`);
      await client.query(`alter table public.${table}_owned owner to ${APP_ROLE}`);
      await client.query(`create table public.${table}_global (id int)`);
      await client.query(`grant select on public.${table}_global to ${APP_ROLE}`);
      // Marked as reference data but writable, or referring to another table: still reported.
      await client.query(`create table public.${table}_writable (id int)`);
      await client.query(`comment on table public.${table}_writable is 'Shared reference data: test'`);
      await client.query(`grant select, insert on public.${table}_writable to ${APP_ROLE}`);
      await client.query(`create table public.${table}_keyed (id bigint references public.tenants (id))`);
      await client.query(`comment on table public.${table}_keyed is 'Shared reference data: test'`);
      await client.query(`grant select on public.${table}_keyed to ${APP_ROLE}`);
      // Marked, read-only, referring to nothing: allowed, like plan_limits.
      await client.query(`create table public.${table}_reference (id int)`);
      await client.query(`comment on table public.${table}_reference is 'Shared reference data: test'`);
      await client.query(`grant select on public.${table}_reference to ${APP_ROLE}`);
      await client.query(`create table public.${table}_sink (id int, note text, code text check (code in ('a')))`);
      await client.query(`grant insert on public.${table}_sink to ${APP_ROLE}`);
      await client.query(`create table public.${table}_readable_sink (id int)`);
      await client.query(`grant insert, select (id) on public.${table}_readable_sink to ${APP_ROLE}`);
      await client.query(`create materialized view public.${table}_copy as select * from public.messages`);
      await client.query(`grant select on public.${table}_copy to ${APP_ROLE}`);
      return roleProblems(catalogReader(client), APP_ROLE);
    });
    const reachable = (relation: string, relkind = 'r') =>
      `${APP_ROLE} can read or change ${relation} (relkind ${relkind}), which is not a tenant table, so no tenant policy applies there. Fix: revoke everything but INSERT (an insert-only sink), or make it a tenant table (a tenant_id column and app.enable_tenant_rls), or mark read-only shared reference data with COMMENT ON TABLE … IS 'Shared reference data: …'.`;
    expect(about(problems, table)).toEqual(
      [
        ...[`table ${table}_owned`, `type ${table}_owned`, `type ${table}_owned[]`].map(
          (object) =>
            `${APP_ROLE} owns ${object}; owners can disable or bypass Row Level Security. Fix: ALTER … OWNER TO the owner role (the one in DATABASE_URL).`,
        ),
        // An owner holds every privilege on its table.
        reachable(`${table}_owned`),
        reachable(`${table}_global`),
        reachable(`${table}_writable`),
        reachable(`${table}_keyed`),
        reachable(`${table}_readable_sink`),
        reachable(`${table}_copy`, 'm'),
        `${APP_ROLE} may insert free text into ${table}_sink.note (text), which is not a tenant table. Fix: constrain it with a CHECK, or make it a tenant table.`,
      ].sort(),
    );
  });

  it('reports superuser, BYPASSRLS and CREATEROLE attributes and privileged memberships of a role (negative control)', async () => {
    const role = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`create role ${role} bypassrls createrole`);
      await client.query(`create role ${role}_owner`);
      await client.query(`create table public.${role}_t (id int)`);
      await client.query(`alter table public.${role}_t owner to ${role}_owner`);
      await client.query(`grant ${role}_owner to ${role}`);
      return roleProblems(catalogReader(client), role);
    });
    expect(problems).toEqual([
      `${role} has BYPASSRLS, so Row Level Security does not apply to it. Fix: ALTER ROLE ${role} NOSUPERUSER NOBYPASSRLS NOCREATEROLE.`,
      `${role} has CREATEROLE, so it could make itself a role that bypasses RLS. Fix: ALTER ROLE ${role} NOSUPERUSER NOBYPASSRLS NOCREATEROLE.`,
      `${role} is a member of ${role}_owner (owns tables), so it can act past Row Level Security. Fix: REVOKE ${role}_owner FROM ${role}.`,
      // Through the membership it holds the owner's privileges on the table.
      `${role} can read or change ${role}_t (relkind r), which is not a tenant table, so no tenant policy applies there. Fix: revoke everything but INSERT (an insert-only sink), or make it a tenant table (a tenant_id column and app.enable_tenant_rls), or mark read-only shared reference data with COMMENT ON TABLE … IS 'Shared reference data: …'.`,
    ]);
  });
});

describe(`operatorRoleProblems (${OPERATOR_ROLE})`, () => {
  it('reports a membership, a CREATE privilege and rights that differ from the app role’s (negative control)', async () => {
    const table = scratchName();
    const problems = await inRolledBackTransaction(async (client) => {
      await client.query(`grant ${APP_ROLE} to ${OPERATOR_ROLE}`);
      await client.query(`grant create on schema app to ${OPERATOR_ROLE}`);
      await client.query(`create table public.${table} (tenant_id bigint)`);
      await client.query(`grant select on public.${table} to ${APP_ROLE}`);
      await client.query(`grant delete on public.messages to ${OPERATOR_ROLE}`);
      await client.query(`grant insert on app.operator_sessions to ${APP_ROLE}`);
      return operatorRoleProblems(catalogReader(client));
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        `${OPERATOR_ROLE} is a member of ${APP_ROLE}, so SET ROLE could leave its confinement. Fix: REVOKE ${APP_ROLE} FROM ${OPERATOR_ROLE}.`,
        `${OPERATOR_ROLE} may create objects in schema app. Fix: REVOKE CREATE ON schema app FROM ${OPERATOR_ROLE}.`,
        `${OPERATOR_ROLE} lacks ${table}: SELECT, which the app role holds. Fix: grant it to both.`,
        `${OPERATOR_ROLE} holds messages: DELETE beyond the app role's rights. Fix: revoke it, or grant it to both.`,
        `${APP_ROLE} holds app.operator_sessions: INSERT; only the owner writes operator bindings. Fix: revoke it.`,
        `${APP_ROLE} may write app.operator_sessions; only the owner may. Fix: REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON app.operator_sessions FROM ${APP_ROLE}.`,
      ]),
    );
  });
});

describe(`role ${APP_ROLE} (connected as it)`, () => {
  let tenant: TestTenant;
  let owner: string;
  beforeAll(async () => {
    tenant = await createTestTenant();
    owner = (
      await withOwnerClient((client) =>
        client.query<{ owner: string }>("select pg_get_userbyid(relowner) as owner from pg_class where oid = 'public.tenants'::regclass"),
      )
    ).rows[0]!.owner;
  });

  it('connects as a role that is neither superuser nor BYPASSRLS', async () => {
    const { rows } = await withAppClient((client) =>
      client.query<{ current_user: string; rolsuper: boolean; rolbypassrls: boolean }>(
        'select current_user, rolsuper, rolbypassrls from pg_roles where rolname = current_user',
      ),
    );
    expect(rows).toEqual([{ current_user: APP_ROLE, rolsuper: false, rolbypassrls: false }]);
  });

  // Each attempt runs inside the tenant's own context, so what refuses it is a privilege, not a missing tenant.
  it.each([
    ['TRUNCATE messages', () => 'truncate messages', /^permission denied for table messages$/],
    ['DISABLE ROW LEVEL SECURITY', () => 'alter table conversations disable row level security', /^must be owner of table conversations$/],
    ['NO FORCE ROW LEVEL SECURITY', () => 'alter table users no force row level security', /^must be owner of table users$/],
    ['DROP POLICY', () => 'drop policy tenant_isolation on messages', /^must be owner of (table|relation) messages$/],
    ['CREATE POLICY', () => 'create policy wide on messages using (true)', /^must be owner of (table|relation) messages$/],
    ['UPDATE users', () => "update users set display_name = 'changed'", /^permission denied for table users$/],
    ['DELETE FROM messages', () => 'delete from messages', /^permission denied for table messages$/],
    ['UPDATE conversations.tenant_id', () => 'update conversations set tenant_id = tenant_id + 1', /^permission denied for table conversations$/],
    ['INSERT INTO tenants', () => "insert into tenants (id, name) values (1, 'x')", /^permission denied for table tenants$/],
    ['SET ROLE to the owner', () => `set role ${owner}`, /^permission denied to set role/],
    ['SET SESSION AUTHORIZATION to the owner', () => `set session authorization ${owner}`, /^permission denied to set session authorization/],
    ['ALTER ROLE … BYPASSRLS', () => `alter role ${APP_ROLE} bypassrls`, /permission denied|must be superuser/],
    ['CREATE TABLE in public', () => 'create table public.app_made (tenant_id bigint)', /^permission denied for schema public$/],
    [
      'replace app.current_tenant_id()',
      () => "create or replace function app.current_tenant_id() returns bigint language sql stable as 'select 1::bigint'",
      /^(permission denied for schema app|must be owner of function current_tenant_id)$/,
    ],
  ])('cannot %s', async (_name, statement, message) => {
    const before = await snapshotTenants([tenant.id]);
    const error = await withAppClient(async (client) => {
      await client.query('begin');
      try {
        await client.query("select set_config('app.current_tenant', $1, true)", [tenant.id]);
        await client.query(statement());
        return null;
      } catch (caught) {
        return caught as pg.DatabaseError;
      } finally {
        await client.query('rollback');
      }
    });
    expect(error?.message).toMatch(message);
    expect(error?.code).toBe('42501');
    expect(await snapshotTenants([tenant.id])).toEqual(before);
  });

  it('cannot read past the policies with row_security = off', async () => {
    const error = await withAppClient(async (client) => {
      await client.query('set row_security = off');
      return client.query('select * from conversations').then(
        () => null,
        (caught: pg.DatabaseError) => caught,
      );
    });
    expect(error?.code).toBe('42501');
    expect(error?.message).toBe('query would be affected by row-level security policy for table "conversations"');
  });
});
