-- The app role and the one function every tenant policy calls.
--
-- tenantgraph_app is the role the API server runs as. It must never own a table, never be a superuser and
-- never bypass RLS: PostgreSQL skips every policy for superusers and BYPASSRLS roles, and for table owners
-- unless FORCE ROW LEVEL SECURITY is set. It is created NOLOGIN so a migration never invents a password;
-- give it one (ALTER ROLE tenantgraph_app LOGIN PASSWORD '...') or grant it to your own login role.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tenantgraph_app') THEN
    IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
      RAISE EXCEPTION 'role tenantgraph_app does not exist and % may not create roles', current_user
        USING HINT = 'As a superuser run: CREATE ROLE tenantgraph_app NOLOGIN NOSUPERUSER NOBYPASSRLS; then migrate again.';
    END IF;
    BEGIN
      CREATE ROLE tenantgraph_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another instance created it between our check and our CREATE
    END;
  END IF;
END
$$;

-- The role may exist from an older install or a careless operator: make its isolation-relevant attributes explicit.
DO $$
BEGIN
  IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = 'tenantgraph_app') THEN
    RAISE EXCEPTION 'role tenantgraph_app is a superuser or has BYPASSRLS, so Row Level Security would not apply to it'
      USING HINT = 'Run: ALTER ROLE tenantgraph_app NOSUPERUSER NOBYPASSRLS;';
  END IF;
END
$$;

CREATE SCHEMA app;
REVOKE ALL ON SCHEMA app FROM PUBLIC;
GRANT USAGE ON SCHEMA app TO tenantgraph_app;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tenantgraph_app;

-- SECURITY: the tenant of the current transaction, set only by src/tenancy with set_config(..., true).
-- STABLE, never IMMUTABLE: an immutable function may be folded into a cached plan and freeze the first
-- tenant's id. A missing setting is NULL on a fresh connection and '' on a pooled one that once had a
-- transaction-local value; both fail closed with a readable error instead of matching no/all rows or a
-- cryptic cast error. Policies call it as (SELECT app.current_tenant_id()) so it runs once per statement.
CREATE FUNCTION app.current_tenant_id() RETURNS bigint
  LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
  raw text := nullif(current_setting('app.current_tenant', true), '');
BEGIN
  IF raw IS NULL THEN
    RAISE EXCEPTION 'tenant context is not set'
      USING ERRCODE = 'TG001',
            HINT = 'Run this statement inside a tenant transaction: select set_config(''app.current_tenant'', <tenant id>, true)';
  END IF;
  RETURN raw::bigint;
END
$$;

REVOKE ALL ON FUNCTION app.current_tenant_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.current_tenant_id() TO tenantgraph_app;

-- SECURITY: the user a request acts for (set with the tenant by app.enter_tenant, which also checks that the
-- user is a member of the tenant, so a token whose subject is not, or no longer, a member is refused before any
-- resolver runs).
CREATE FUNCTION app.current_user_id() RETURNS uuid
  LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
  raw text := nullif(current_setting('app.current_user', true), '');
BEGIN
  IF raw IS NULL THEN
    RAISE EXCEPTION 'user context is not set' USING ERRCODE = 'TG001';
  END IF;
  RETURN raw::uuid;
END
$$;
REVOKE ALL ON FUNCTION app.current_user_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.current_user_id() TO tenantgraph_app;
