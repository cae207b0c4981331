-- The Citus form of the tenant policy (issue 13 §5). Citus rejects policies that contain a subquery, and the
-- policy of migrations/0009, `tenant_id = (SELECT app.current_tenant_id())`, has one: the subquery makes the
-- function an InitPlan, evaluated once per statement. The Citus form calls the function directly:
--
--   tenant_id = app.current_tenant_id()
--
-- which is as safe: app.current_tenant_id() is STABLE, so PostgreSQL evaluates it once per statement execution
-- (never folds it into a cached plan, as it could an IMMUTABLE one), and an index scan uses it as its key just the
-- same (bench/test/plans.test.ts runs in both forms).
--
-- app.set_tenant_policy_form(t, 'citus' | 'standard') rewrites the RESTRICTIVE policy tenant_isolation of one
-- tenant table (made by app.enable_tenant_rls) to the given form, USING and WITH CHECK alike; nothing else of the
-- table changes. Switching is an operator action for every tenant table at once, from the catalog:
-- `npm run cli -- tenant-policies --form citus`, together with TENANT_CONTEXT_MODE=citus (the start-up check accepts
-- exactly the form of the mode). A migration that adds a tenant table still calls app.enable_tenant_rls (the
-- standard form); on a Citus deployment run the CLI step again after it, and start-up says so until then.
--
-- SECURITY: like app.enable_tenant_rls it runs as its caller (no SECURITY DEFINER), so it can change only tables
-- the caller owns, and only the owner may execute it (revoked from PUBLIC, granted to no one).
CREATE FUNCTION app.set_tenant_policy_form(tenant_table regclass, form text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant_column name := CASE WHEN tenant_table = 'public.tenants'::regclass THEN 'id' ELSE 'tenant_id' END;
  equality text;
BEGIN
  IF form = 'citus' THEN
    equality := format('%I = app.current_tenant_id()', tenant_column);
  ELSIF form = 'standard' THEN
    equality := format('%I = (SELECT app.current_tenant_id())', tenant_column);
  ELSE
    RAISE EXCEPTION 'policy form must be ''citus'' or ''standard'', received %', coalesce(quote_literal(form), 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = tenant_table AND p.polname = 'tenant_isolation' AND NOT p.polpermissive) THEN
    RAISE EXCEPTION '% has no RESTRICTIVE policy tenant_isolation', tenant_table
      USING HINT = format('Run SELECT app.enable_tenant_rls(%L) first.', tenant_table::text);
  END IF;
  EXECUTE format('ALTER POLICY tenant_isolation ON %s USING (%s) WITH CHECK (%s)', tenant_table, equality, equality);
END
$$;
REVOKE ALL ON FUNCTION app.set_tenant_policy_form(regclass, text) FROM PUBLIC;
