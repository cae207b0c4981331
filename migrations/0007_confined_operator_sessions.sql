-- A confined operator role for `cli sql`, whose tenant context its own statements cannot change.
--
-- SECURITY: the app role's tenant is the transaction-local setting app.current_tenant, which any statement the
-- role runs may change with set_config; that is safe for the API, which runs only its own SQL, and unsafe for an
-- operator's free-form statement (`set_config('app.current_tenant', <other>, true)` inside a select or a CTE
-- read and wrote another tenant). For tenantgraph_operator the tenant is instead the row of
-- app.operator_sessions bound to its backend, which only the owner writes (the CLI, before the operator runs
-- anything); app.current_tenant is ignored for it. The role is a member of no role, so SET ROLE and
-- SET SESSION AUTHORIZATION reach nothing, and holds no CREATE on any schema. It is created NOLOGIN, like
-- tenantgraph_app: the CLI gives the embedded database's one a login; elsewhere give it one yourself.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenantgraph_operator') THEN
    IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
      RAISE EXCEPTION 'role tenantgraph_operator does not exist and % may not create roles', current_user
        USING HINT = 'As a superuser run: CREATE ROLE tenantgraph_operator NOLOGIN NOSUPERUSER NOBYPASSRLS; then migrate again.';
    END IF;
    BEGIN
      CREATE ROLE tenantgraph_operator NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another instance created it between our check and our CREATE
    END;
  END IF;
  IF (SELECT rolsuper OR rolbypassrls OR rolcreaterole FROM pg_roles WHERE rolname = 'tenantgraph_operator') THEN
    RAISE EXCEPTION 'role tenantgraph_operator is a superuser or has BYPASSRLS or CREATEROLE, so it would not be confined'
      USING HINT = 'Run: ALTER ROLE tenantgraph_operator NOSUPERUSER NOBYPASSRLS NOCREATEROLE;';
  END IF;
  IF EXISTS (SELECT FROM pg_auth_members WHERE member = 'tenantgraph_operator'::regrole) THEN
    RAISE EXCEPTION 'role tenantgraph_operator is a member of another role, so SET ROLE could leave its confinement'
      USING HINT = 'Revoke those memberships: SELECT roleid::regrole FROM pg_auth_members WHERE member = ''tenantgraph_operator''::regrole;';
  END IF;
END
$$;

-- The same rights as the app role on everything the migrations so far granted it (schemas, tables, columns,
-- sequences, functions), copied from the catalog instead of listed again; test/rls/catalog.test.ts keeps later
-- migrations honest (the operator's privileges must equal the app role's, plus its binding below).
DO $$
DECLARE
  grant_statement text;
BEGIN
  FOR grant_statement IN
    SELECT format('GRANT %s ON SCHEMA %I TO tenantgraph_operator', a.privilege_type, n.nspname)
      FROM pg_namespace n, aclexplode(n.nspacl) a
     WHERE a.grantee = 'tenantgraph_app'::regrole
    UNION ALL
    SELECT format('GRANT %s ON %s %s TO tenantgraph_operator', a.privilege_type, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::regclass)
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE a.grantee = 'tenantgraph_app'::regrole
    UNION ALL
    SELECT format('GRANT %s (%I) ON TABLE %s TO tenantgraph_operator', a.privilege_type, att.attname, att.attrelid::regclass)
      FROM pg_attribute att, aclexplode(att.attacl) a
     WHERE a.grantee = 'tenantgraph_app'::regrole
    UNION ALL
    SELECT format('GRANT %s ON FUNCTION %s TO tenantgraph_operator', a.privilege_type, p.oid::regprocedure)
      FROM pg_proc p, aclexplode(p.proacl) a
     WHERE a.grantee = 'tenantgraph_app'::regrole
  LOOP
    EXECUTE grant_statement;
  END LOOP;
END
$$;

-- One row per operator connection, written only by the owner. A row is bound to one backend: its pid and its
-- start time (a pid alone could be reused by a later backend if the CLI died before removing the row). The tenant
-- column is deliberately not called tenant_id: this is no tenant-owned table under the tenant policies, but the
-- owner's own bookkeeping. claim_token is set for a psql session, which redeems it once (claim_operator_session).
CREATE TABLE app.operator_sessions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bound_tenant_id bigint NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  request_id      text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  claim_token     uuid UNIQUE,
  backend_pid     integer UNIQUE,
  backend_start   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((backend_pid IS NULL) = (backend_start IS NULL)),
  CHECK ((claim_token IS NULL) <> (backend_pid IS NULL))
);
ALTER TABLE app.operator_sessions ENABLE ROW LEVEL SECURITY;
-- Not FORCEd: the owner writes every row. The operator reads its own binding and nothing else (no other
-- session's tenant, no unredeemed token).
CREATE POLICY own_binding ON app.operator_sessions FOR SELECT TO tenantgraph_operator
  USING (backend_pid = pg_catalog.pg_backend_pid());
REVOKE ALL ON app.operator_sessions FROM PUBLIC;
GRANT SELECT ON app.operator_sessions TO tenantgraph_operator;

-- SECURITY: the tenant of the current statement. For the app role: the transaction-local setting, as before
-- (0001). For a connection that logged in as the operator role: the owner-written binding of this backend,
-- whatever app.current_tenant says. session_user, not current_user: it stays the operator inside SECURITY
-- DEFINER functions, and only a superuser session can change it (SET SESSION AUTHORIZATION). STABLE, never
-- IMMUTABLE (a cached plan could freeze the first tenant); policies call it as (SELECT app.current_tenant_id()),
-- an InitPlan run once per statement. The app role's path gains one comparison of two names: about 0.2 µs per
-- call, measured in a loop of a million calls against the 0001 version. PL/pgSQL plans the binding lookup only
-- when it first runs, so the app role never touches app.operator_sessions. Everything is schema-qualified: the
-- operator may set search_path, and may create temporary objects (TEMP is PUBLIC's), which are never searched
-- for functions or operators, but are for types.
CREATE OR REPLACE FUNCTION app.current_tenant_id() RETURNS bigint
  LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
  raw pg_catalog.text; -- qualified: temporary types come before pg_catalog's in type lookup
  bound bigint;
BEGIN
  IF session_user = 'tenantgraph_operator' THEN
    SELECT s.bound_tenant_id INTO bound
      FROM app.operator_sessions s
     WHERE s.backend_pid = pg_catalog.pg_backend_pid()
       AND s.backend_start = (SELECT a.backend_start FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a);
    IF bound IS NULL THEN
      RAISE EXCEPTION 'this operator connection is bound to no tenant'
        USING ERRCODE = 'TG001',
              HINT = 'Operator connections get their tenant from `npm run -s cli -- sql --tenant ID`; app.current_tenant does not apply to them.';
    END IF;
    RETURN bound;
  END IF;
  raw := nullif(pg_catalog.current_setting('app.current_tenant', true), '');
  IF raw IS NULL THEN
    RAISE EXCEPTION 'tenant context is not set'
      USING ERRCODE = 'TG001',
            HINT = 'Run this statement inside a tenant transaction: select set_config(''app.current_tenant'', <tenant id>, true)';
  END IF;
  RETURN raw::bigint;
END
$$;

-- SECURITY: how a psql session binds itself, since the CLI cannot learn psql's backend before psql runs
-- statements. The owner issues a random one-time token for one tenant; psql's startup file redeems it as the
-- session's first statement, before any operator input. It binds only the calling backend (pg_backend_pid(),
-- never an argument), refuses a backend that already has a row (so a bound session can never claim a second
-- token, nor be unbound: only the owner deletes rows), and consumes the token. backend_start is the caller's
-- word (the owner cannot read the operator's pg_stat_activity row); a wrong one only makes the caller's own
-- binding never match, which fails closed.
CREATE FUNCTION app.claim_operator_session(token uuid, backend_start timestamptz) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bound bigint;
BEGIN
  IF session_user <> 'tenantgraph_operator' THEN
    RAISE EXCEPTION 'only tenantgraph_operator connections claim operator sessions' USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT FROM app.operator_sessions s WHERE s.backend_pid = pg_backend_pid()) THEN
    RAISE EXCEPTION 'this connection is already bound to a tenant' USING ERRCODE = '42501';
  END IF;
  UPDATE app.operator_sessions s
     SET backend_pid = pg_backend_pid(), backend_start = claim_operator_session.backend_start, claim_token = NULL
   WHERE s.claim_token = claim_operator_session.token
  RETURNING s.bound_tenant_id INTO bound;
  IF bound IS NULL THEN
    RAISE EXCEPTION 'unknown or already used operator session token' USING ERRCODE = '42501';
  END IF;
  RETURN bound;
END
$$;
REVOKE ALL ON FUNCTION app.claim_operator_session(uuid, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.claim_operator_session(uuid, timestamptz) TO tenantgraph_operator;
