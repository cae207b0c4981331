-- Audit trail: one row per tenant context switch (every request that opened a tenant transaction, every
-- operator session from the CLI). Tenant-owned and under the same RLS as everything else; the app role may
-- only INSERT and SELECT, so an event cannot be rewritten or erased through the API.
CREATE TABLE audit_events (
  tenant_id      bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  id             uuid NOT NULL DEFAULT gen_random_uuid(),
  -- When the context switch began (the request's start).
  created_at     timestamptz NOT NULL,
  -- The token's subject; no foreign key, because refused non-members are recorded too.
  user_id        uuid,
  request_id     text NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  source         text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'cli')),
  operation_type text CHECK (operation_type IN ('query', 'mutation', 'subscription', 'sql')),
  operation_name text CHECK (length(operation_name) <= 200),
  outcome        text NOT NULL CHECK (outcome IN ('committed', 'rolled_back', 'rejected')),
  duration_ms    integer NOT NULL CHECK (duration_ms >= 0),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_tenant_created_idx ON audit_events (tenant_id, created_at DESC, id DESC);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON audit_events AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true);
CREATE POLICY tenant_isolation ON audit_events AS RESTRICTIVE FOR ALL
  USING (tenant_id = (SELECT app.current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT app.current_tenant_id()));

GRANT SELECT, INSERT ON audit_events TO tenantgraph_app;
