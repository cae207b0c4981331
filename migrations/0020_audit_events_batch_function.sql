-- A cheaper audit trail for reads (issue 9 §2). Every request transaction leaves one audit event; a read's is
-- buffered and written by the audit pool, a batch at a time (src/audit/audit-batch-writer.ts). Until now a batch
-- sent, for every tenant in it, a transaction-local set_config and one literal INSERT statement (a CTE that also
-- routes the events of a tenant that does not exist): with 1,000 uniformly picked tenants nearly every event had a
-- statement of its own, parsed and planned every time. Measured on the bench's database (embedded PostgreSQL 18.4),
-- 300 events of 1,000 tenants per batch: 155 µs of database CPU per event that way, 64 µs with this function.
--
-- app.write_audit_events takes the whole batch as arrays, grouped by tenant (equal tenant ids next to each other),
-- and does per tenant what the literal statements did: switch the transaction-local tenant, then, if the tenant
-- row is visible under that tenant's RLS (it exists), insert its events into audit_events, otherwise only their
-- ids, time and reason into refused_context_switches (migrations/0006). Its statements are PL/pgSQL's, prepared
-- once per connection. What remains per tenant is PostgreSQL's own per-INSERT work, most of it compiling the
-- table's seven CHECK constraints for each statement (~25 µs of the 64).
--
-- SECURITY: it runs as its caller (no SECURITY DEFINER), so every INSERT is checked by the tenant_isolation
-- policy under the tenant it has just entered, exactly as the app role's own statements are, and the constraints,
-- the foreign key to tenants and the grants apply unchanged (the app role may only insert into and read
-- audit_events, only insert into refused_context_switches). It grants nothing the app role could not do with
-- set_config and INSERT itself. The app role and, as every grant of the app role (migrations/0007), the confined
-- operator role may execute it; for the operator app.current_tenant is ignored, so there it can write only into
-- its bound tenant, as its own INSERTs can. search_path is pinned and every name qualified.
-- Like every setting of a tenant transaction, the tenant is transaction-local and ends with the batch's transaction.
CREATE FUNCTION app.write_audit_events(
  tenant_ids bigint[], created_ats timestamptz[], user_ids uuid[], request_ids text[], sources text[],
  operation_types text[], operation_names text[], outcomes text[], durations_ms integer[], events_delivered integer[]
) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n integer := coalesce(cardinality(tenant_ids), 0);
  first integer := 1;
  last integer;
  tenant bigint;
BEGIN
  IF coalesce(cardinality(created_ats), 0) <> n OR coalesce(cardinality(user_ids), 0) <> n
     OR coalesce(cardinality(request_ids), 0) <> n OR coalesce(cardinality(sources), 0) <> n
     OR coalesce(cardinality(operation_types), 0) <> n OR coalesce(cardinality(operation_names), 0) <> n
     OR coalesce(cardinality(outcomes), 0) <> n OR coalesce(cardinality(durations_ms), 0) <> n
     OR coalesce(cardinality(events_delivered), 0) <> n THEN
    RAISE EXCEPTION 'app.write_audit_events expects arrays of one length, received % tenant ids and columns of other lengths', n
      USING ERRCODE = '22023';
  END IF;
  WHILE first <= n LOOP
    tenant := tenant_ids[first];
    IF tenant IS NULL OR tenant <= 0 THEN
      RAISE EXCEPTION 'app.write_audit_events expects positive tenant ids, received %', coalesce(tenant::text, 'NULL')
        USING ERRCODE = '22023';
    END IF;
    last := first;
    WHILE last < n AND tenant_ids[last + 1] = tenant LOOP
      last := last + 1;
    END LOOP;
    -- SECURITY: transaction-local, as app.enter_tenant sets it; the policies of both tables read it.
    PERFORM set_config('app.current_tenant', tenant::text, true);
    IF EXISTS (SELECT FROM public.tenants WHERE id = tenant) THEN
      INSERT INTO public.audit_events
        (created_at, user_id, request_id, source, operation_type, operation_name, outcome, duration_ms, events_delivered)
      SELECT * FROM unnest(created_ats[first:last], user_ids[first:last], request_ids[first:last], sources[first:last],
                           operation_types[first:last], operation_names[first:last], outcomes[first:last],
                           durations_ms[first:last], events_delivered[first:last]);
    ELSE
      INSERT INTO public.refused_context_switches (claimed_tenant_id, user_id, request_id, occurred_at, reason)
      SELECT tenant, e.user_id, e.request_id, e.created_at, 'unknown_tenant'
        FROM unnest(user_ids[first:last], request_ids[first:last], created_ats[first:last]) AS e (user_id, request_id, created_at);
    END IF;
    first := last + 1;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION app.write_audit_events(bigint[], timestamptz[], uuid[], text[], text[], text[], text[], text[], integer[], integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.write_audit_events(bigint[], timestamptz[], uuid[], text[], text[], text[], text[], text[], integer[], integer[]) TO tenantgraph_app, tenantgraph_operator;
