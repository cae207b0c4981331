-- A read's audit event costs one index entry instead of two (issue 9): every request writes one row, so the
-- audit trail is the largest write load of a read-heavy API. The primary key becomes (tenant_id, created_at, id)
-- and serves both what the separate index served (the tenant's events newest first, keyset-paginated on
-- (created_at, id): a backward scan of the key) and uniqueness; audit_events_tenant_created_idx goes. New rows
-- of a tenant land at the right end of its key range instead of at a random uuid's place.
-- Still tenant-led (startup catalog check), still under the same RLS policies, grants unchanged.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, created_at, id);
DROP INDEX audit_events_tenant_created_idx;
