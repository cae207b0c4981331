-- Refused context switches whose tenant does not exist: a validly signed token of a deleted tenant, or an
-- identity provider ahead of provisioning. Such an event cannot go into audit_events (its tenant_id references
-- tenants, and RLS scopes it to a tenant that is not there); before this table it violated
-- audit_events_tenant_id_fkey and rolled back the whole multi-tenant batch it was written in (issue 8).
--
-- SECURITY: this is deliberately NOT a tenant table: its rows belong to no tenant, and its tenant column is named
-- claimed_tenant_id (not tenant_id), so the RLS checklist does not apply. What makes it safe instead:
--   * the app role may only INSERT, and only into these five columns: it cannot read, change or delete a row,
--     so nothing written here can be seen through the API (no SELECT also means no RETURNING);
--   * no free text: ids, a time and a reason from a closed list, each column constrained, so no tenant data can
--     land here; request_id has the HTTP layer's own pattern;
--   * no key the app role can choose: id is generated and not insertable, so no unique check can be probed.
-- test/rls/catalog.test.ts › role tenantgraph_app checks exactly these rules for every non-tenant table.
CREATE TABLE refused_context_switches (
  id                uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  -- The tenant the token claimed; no foreign key, because it does not exist.
  claimed_tenant_id bigint NOT NULL CHECK (claimed_tenant_id > 0),
  -- The token's subject.
  user_id           uuid,
  request_id        text NOT NULL CHECK (request_id ~ '^[A-Za-z0-9._-]{1,128}$'),
  -- When the refused request began.
  occurred_at       timestamptz NOT NULL,
  reason            text NOT NULL CHECK (reason IN ('unknown_tenant'))
);
CREATE INDEX refused_context_switches_occurred_idx ON refused_context_switches (occurred_at DESC);

GRANT INSERT (claimed_tenant_id, user_id, request_id, occurred_at, reason) ON refused_context_switches TO tenantgraph_app;
