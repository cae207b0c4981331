import type pg from 'pg';
import { OPERATOR_ROLE } from './operator-role.js';

/**
 * SECURITY: what makes an operator connection confined, checked on the connection itself before any operator
 * SQL runs (fail closed): it logs in as tenantgraph_operator, which is no superuser, bypasses no RLS, owns
 * nothing, is a member of no role (so SET ROLE and SET SESSION AUTHORIZATION reach nothing) and may create in
 * no schema (so no function of its own can stand in for ours); and its tenant stays the bound one when
 * app.current_tenant says otherwise — which proves the database runs migration 0007's app.current_tenant_id().
 *
 * Returns the problems (empty when confined); each says what is wrong and what to do.
 */
export async function findOperatorConfinementProblems(client: pg.ClientBase, tenantId: string): Promise<string[]> {
  const { rows } = await client.query<{
    session_user: string;
    current_user: string;
    rolsuper: boolean;
    rolbypassrls: boolean;
    owns: boolean;
    memberships: string[];
    creatable: string[];
  }>(
    `select session_user::text as session_user, current_user::text as current_user, r.rolsuper, r.rolbypassrls,
            exists (select from pg_class c where c.relowner = r.oid) as owns,
            array(select m.rolname::text from pg_roles m where m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER') order by 1) as memberships,
            array(select n.nspname::text from pg_namespace n
                   where n.nspname !~ '^pg_(toast_)?temp_' and has_schema_privilege(r.oid, n.oid, 'CREATE') order by 1) as creatable
       from pg_roles r where r.rolname = session_user`,
  );
  const role = rows[0]!;
  const problems: string[] = [];
  const fix = `Point DATABASE_URL_OPERATOR at the ${OPERATOR_ROLE} role (migrations/0007), unchanged.`;
  if (role.session_user !== OPERATOR_ROLE || role.current_user !== OPERATOR_ROLE) {
    problems.push(
      `The operator connection acts as "${role.current_user}" (logged in as "${role.session_user}"), expected ${OPERATOR_ROLE}, the only role whose tenant its statements cannot change. ${fix}`,
    );
  }
  if (role.rolsuper || role.rolbypassrls)
    problems.push(`The operator role "${role.session_user}" is a superuser or has BYPASSRLS, so Row Level Security does not apply to it. ${fix}`);
  if (role.owns) problems.push(`The operator role "${role.session_user}" owns tables; owners can disable Row Level Security. ${fix}`);
  if (role.memberships.length) {
    problems.push(
      `The operator role "${role.session_user}" is a member of ${role.memberships.join(', ')}; SET ROLE would leave its confinement. Revoke those memberships.`,
    );
  }
  if (role.creatable.length) {
    problems.push(`The operator role "${role.session_user}" may create objects in schema ${role.creatable.join(', ')}; revoke CREATE there.`);
  }
  if (problems.length) return problems;

  // A decoy tenant in the setting the app role's context comes from: the operator's must not follow it.
  const decoy = tenantId === '1' ? '2' : '1';
  const results = (await client.query(
    `begin; select set_config('app.current_tenant', '${decoy}', true); select app.current_tenant_id()::text as tenant; rollback`,
  )) as unknown as pg.QueryResult<{ tenant: string }>[];
  const tenant = results[2]?.rows[0]?.tenant;
  if (tenant !== tenantId) {
    problems.push(
      `The operator connection's tenant followed app.current_tenant (${JSON.stringify(tenant ?? null)}, expected ${tenantId}); app.current_tenant_id() is not the one of migrations/0007. Migrate the database (npm run migrate).`,
    );
  }
  return problems;
}

export class UnconfinedOperatorError extends Error {
  constructor(readonly problems: string[]) {
    super(`Refusing to run operator SQL: the operator connection is not confined to its tenant.\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'UnconfinedOperatorError';
  }
}
