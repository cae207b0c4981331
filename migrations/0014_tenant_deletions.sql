-- Verified hard deletion (issue 13 §4): one row per `cli tenant delete`, the proof of an erasure to show an
-- auditor. It must outlive the tenant, so it is deliberately NOT a tenant table: no tenant_id column (the deleted
-- tenant's id is deleted_tenant_id, with no foreign key: the tenant is gone), no tenant data (the name only as a
-- SHA-256 hash, row counts per table, no row contents), and no grant to tenantgraph_app or tenantgraph_operator:
-- only the owner writes and reads it (the start-up catalog check refuses any relation the app role could reach
-- beyond tenant tables). GDPR Art. 17(3)(e) and Art. 5(2): the controller keeps what it needs to demonstrate the
-- erasure, and nothing more.
--
-- A run first records a 'pending' row, then deletes (one transaction), then verifies and marks it 'completed': a
-- run killed midway leaves the pending row, and the next run finds it and completes the deletion (src/admin/tenant-delete.ts).
CREATE TABLE tenant_deletions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  deleted_tenant_id bigint NOT NULL CHECK (deleted_tenant_id > 0),
  -- sha256 of the tenant's name as UTF-8, hex: proves which tenant this was to whoever knows the name.
  name_sha256       text NOT NULL CHECK (name_sha256 ~ '^[0-9a-f]{64}$'),
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
  -- {"public.messages": 120, …}: the tenant's rows per table when the deletion ran, and after it (all 0).
  rows_before       jsonb NOT NULL,
  rows_after        jsonb,
  -- Who ran it (--operator, else the OS user and host of the CLI) and as which database role.
  operator          text NOT NULL CHECK (length(operator) BETWEEN 1 AND 200),
  database_role     text NOT NULL DEFAULT session_user,
  started_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,
  -- Runs that started this deletion (a killed run leaves it pending; the next one completes it).
  attempts          integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  CHECK ((status = 'completed') = (completed_at IS NOT NULL AND rows_after IS NOT NULL))
);
-- At most one unfinished deletion per tenant, so concurrent runs cannot both record one.
CREATE UNIQUE INDEX tenant_deletions_pending_key ON tenant_deletions (deleted_tenant_id) WHERE status = 'pending';
CREATE INDEX tenant_deletions_tenant_idx ON tenant_deletions (deleted_tenant_id, started_at DESC);
REVOKE ALL ON tenant_deletions FROM PUBLIC;
COMMENT ON TABLE tenant_deletions IS 'Deletion records of tenants (cli tenant delete): owner-only, survives the tenant; no tenant data.';
