-- The Row Level Security boilerplate of a tenant table in one line (issue 10 §2). A migration that adds a tenant
-- table `labels` writes, after its CREATE TABLE:
--
--   SELECT app.enable_tenant_rls('labels');
--
-- It does exactly what migrations 0002/0003 wrote by hand: ENABLE and FORCE ROW LEVEL SECURITY, the permissive
-- policy tenant_rows that grants the rows, and the RESTRICTIVE policy tenant_isolation holding the tenant
-- equality on USING and WITH CHECK, so a permissive policy added later (e.g. per-user visibility) can only narrow
-- it. The start-up check (src/db/tenant-catalog.ts) accepts exactly this policy.
--
-- SECURITY: it runs as its caller (no SECURITY DEFINER), so it can change only tables the caller owns; and only
-- the owner may execute it (revoked from PUBLIC, granted to no one): the app and operator roles cannot call it.
CREATE FUNCTION app.enable_tenant_rls(tenant_table regclass) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_attribute a
                  WHERE a.attrelid = tenant_table AND a.attname = 'tenant_id' AND a.attnotnull AND NOT a.attisdropped) THEN
    RAISE EXCEPTION '% has no NOT NULL tenant_id column', tenant_table
      USING HINT = 'Add tenant_id bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) (README: Adding a tenant-owned table).';
  END IF;
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tenant_table);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tenant_table);
  EXECUTE format('CREATE POLICY tenant_rows ON %s AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true)', tenant_table);
  EXECUTE format(
    'CREATE POLICY tenant_isolation ON %s AS RESTRICTIVE FOR ALL '
    'USING (tenant_id = (SELECT app.current_tenant_id())) '
    'WITH CHECK (tenant_id = (SELECT app.current_tenant_id()))', tenant_table);
END
$$;
REVOKE ALL ON FUNCTION app.enable_tenant_rls(regclass) FROM PUBLIC;

-- Nothing calls it since 0004 replaced app.assert_member with app.enter_tenant, which reads its member argument.
DROP FUNCTION app.current_user_id();
