-- Plan changes announced on commit (issue 9): every server caches each tenant's plan limits (src/tenancy/
-- plan-limits-cache.ts). Until now an entry was fresh for PLAN_CACHE_TTL_MS (30 s) and then re-read, one extra
-- transaction per tenant per 30 s: with 1,000 uniformly picked tenants ~0.3 round trips of every API request.
-- With these notices a server that is listening keeps an entry fresh much longer (PLAN_CACHE_LISTENING_TTL_MS,
-- 10 minutes) and evicts it the moment a change commits, so a plan change takes effect on the tenant's next
-- request on every replica instead of up to 30 s later (src/tenancy/plan-change-listener.ts).
--
-- Channel tenantgraph_plan_changed; the payload is a tenant id (decimal digits) or '*' for every tenant:
--   * a tenant row inserted (a token of a tenant not yet created was cached with the most restrictive plan),
--     deleted (cli tenant delete), or updated in its plan or external_id (a plan lookup by an external id caches
--     the tenant id it resolved to): that tenant's id;
--   * any change to plan_limits (a plan's limits, a plan added or removed): '*'.
-- NOTIFY is delivered when the transaction commits and not at all when it rolls back; identical notices of one
-- transaction collapse into one. NOTIFY takes a database-wide lock at commit (STACK-NOTES), which serialises the
-- commits that send one: only these administrative writes do, never a request of the API.
--
-- SECURITY: the payload is an id and nothing else, and a received one only makes a server re-read that tenant's
-- plan under that tenant's RLS: a forged notice costs one read, never a leak or looser limits. The function reads
-- and writes no table, so it needs no privilege and no SECURITY DEFINER: it runs as whoever changes the rows
-- (the owner: the app role may not write either table) and calls only pg_notify, which PUBLIC may execute. Its
-- search_path is pinned and pg_notify qualified all the same. EXECUTE is revoked from PUBLIC and granted to
-- nobody: the owner, the only role that writes these tables, holds it as the function's owner.
--
-- Citus (docs/citus.md): tenants and plan_limits become reference tables whose triggers fire on the nodes that
-- hold the placements, not necessarily where the servers listen; start-up therefore listens only in the standard
-- tenant-context mode unless told otherwise (PLAN_LISTEN_DATABASE_URL), and otherwise keeps the 30 s freshness.
CREATE FUNCTION app.announce_plan_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_TABLE_NAME = 'plan_limits' THEN
    PERFORM pg_catalog.pg_notify('tenantgraph_plan_changed', '*');
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_catalog.pg_notify('tenantgraph_plan_changed', OLD.id::text);
  ELSE
    PERFORM pg_catalog.pg_notify('tenantgraph_plan_changed', NEW.id::text);
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION app.announce_plan_change() FROM PUBLIC;

CREATE TRIGGER tenants_announce_plan_change_insert_delete AFTER INSERT OR DELETE ON tenants
  FOR EACH ROW EXECUTE FUNCTION app.announce_plan_change();
-- Not for the other columns (suspension, name): the plan lookup reads none of them.
CREATE TRIGGER tenants_announce_plan_change_update AFTER UPDATE OF plan, external_id ON tenants
  FOR EACH ROW WHEN (OLD.plan IS DISTINCT FROM NEW.plan OR OLD.external_id IS DISTINCT FROM NEW.external_id)
  EXECUTE FUNCTION app.announce_plan_change();
-- Once per statement: every tenant's entry goes anyway.
CREATE TRIGGER plan_limits_announce_plan_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON plan_limits
  FOR EACH STATEMENT EXECUTE FUNCTION app.announce_plan_change();
