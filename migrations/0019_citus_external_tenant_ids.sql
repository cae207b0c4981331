-- External tenant ids in tokens under TENANT_CONTEXT_MODE=citus (issue 13 §1 and §5).
--
-- In Citus mode the prologue applies the tenant with `SET LOCAL app.current_tenant = '<digits>'` before
-- app.enter_tenant runs, because Citus forwards only SET LOCAL to its workers. A token that names its tenant by an
-- external id (`org_2abc`) cannot be resolved inside that statement, so the server keeps a bounded in-process map
-- external id -> tenant id (src/tenancy/external-tenant-ids.ts) and puts the mapped id into SET LOCAL. A map can be
-- stale: the external id was moved to another tenant, or its tenant was deleted. This overload of app.enter_tenant
-- takes the token's external id as well and enters the tenant only if that tenant's external_id is exactly the
-- token's, checked in the same statement, so a stale entry fails closed instead of entering the old mapping's
-- tenant.
--
-- SECURITY: it runs as the invoker, like the four-argument form, and reads the tenant's row under RLS after the
-- tenant is set (the app role sees exactly that row); a tenant that no longer exists shows no row and is refused
-- the same way. The refusal is TG002 with DETAIL 'stale_external_id', never a tenant id: just-in-time membership
-- acts only on a refusal that names a tenant (request-transaction.ts), so a stale entry can never make anyone a
-- member of the tenant it wrongly named. After the check the four-argument form does everything else (membership,
-- suspension, user, timeouts) unchanged, so the standard mode's behaviour is untouched.
CREATE FUNCTION app.enter_tenant(tenant text, member text, statement_timeout_ms integer, idle_timeout_ms integer, tenant_external_id text)
  RETURNS TABLE (entered_tenant bigint, entered_user uuid)
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  named text;
BEGIN
  IF tenant IS NULL OR tenant !~ '^[1-9][0-9]{0,18}$' THEN
    RAISE EXCEPTION 'tenant must be the tenant id (decimal digits) when its external id is given' USING ERRCODE = '22023';
  END IF;
  IF tenant_external_id IS NULL OR tenant_external_id !~ '^[!-&(-[\]-~]{1,255}$' OR tenant_external_id ~ '^[0-9]+$' THEN
    RAISE EXCEPTION 'tenant_external_id must be an external tenant id' USING ERRCODE = '22023';
  END IF;
  PERFORM pg_catalog.set_config('app.current_tenant', tenant, true);
  SELECT t.external_id INTO named FROM public.tenants t WHERE t.id = tenant::bigint;
  IF named IS DISTINCT FROM tenant_external_id THEN
    RAISE EXCEPTION 'the tenant id known for the token''s external tenant id no longer has it'
      USING ERRCODE = 'TG002', DETAIL = 'stale_external_id',
            HINT = 'Resolve the external id again and retry.';
  END IF;
  RETURN QUERY SELECT e.entered_tenant, e.entered_user FROM app.enter_tenant(tenant, member, statement_timeout_ms, idle_timeout_ms) e;
END
$$;
REVOKE ALL ON FUNCTION app.enter_tenant(text, text, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.enter_tenant(text, text, integer, integer, text) TO tenantgraph_app, tenantgraph_operator;
