-- Identity providers as they are, and suspended tenants (issue 13 §1, §2).
--
-- * tenants.external_id: the identity provider's name for the organisation (Auth0/Clerk `org_2abc…`, a Keycloak
--   organisation id, a Cognito custom attribute). Unique across tenants, because a token names its tenant by it.
--   Never all digits: a token's tenant value made of digits always means tenants.id, so the two never collide.
-- * users.external_subject: the provider's `sub` for the member (`auth0|65f…`, `user_2abc…`, a Keycloak UUID),
--   unique within the tenant. A member may be named by its id (the CLI's own tokens) or by it.
-- * tenants.suspended_at / suspension_reason: a suspended tenant's requests are refused (HTTP 403
--   TENANT_SUSPENDED) by app.enter_tenant, in the prologue round trip; its rows are untouched.
--
-- Values that the prologue inlines (simple protocol, no parameters) are printable ASCII without space, quote
-- or backslash, at most 255 characters: the same pattern is checked in src/ids/entity-ids.ts.

ALTER TABLE tenants
  ADD COLUMN external_id text CHECK (external_id ~ '^[!-&(-[\]-~]{1,255}$' AND external_id !~ '^[0-9]+$'),
  ADD COLUMN suspended_at timestamptz,
  ADD COLUMN suspension_reason text CHECK (length(suspension_reason) BETWEEN 1 AND 500),
  ADD CONSTRAINT tenants_suspension_reason_check2 CHECK (suspension_reason IS NULL OR suspended_at IS NOT NULL);
-- SECURITY: the one key of a tenant table that does not lead with the tenant: a token names its tenant by it, so
-- it must be unique across tenants. Unique checks ignore RLS, but only the owner may write tenants (the app role
-- has SELECT only), so no tenant can probe it; src/db/tenant-catalog.ts (keyProblems) allows exactly that.
CREATE UNIQUE INDEX tenants_external_id_key ON tenants (external_id);

ALTER TABLE users
  ADD COLUMN external_subject text CHECK (external_subject ~ '^[!-&(-[\]-~]{1,255}$');
CREATE UNIQUE INDEX users_tenant_external_subject_key ON users (tenant_id, external_subject);

-- SECURITY: the one way from an external id to a tenant: a token's tenant must be found before the tenant is
-- set, and RLS shows the app role only the tenant already set. SECURITY DEFINER (it runs as the owner, who
-- bypasses RLS), so it is kept to the least it can be: one exact-match lookup of one indexed column, returning
-- only that tenant's id (which every token of the tenant carries anyway), or NULL; no other column, no pattern,
-- no enumeration. search_path is pinned so no object of the caller's can stand in for `tenants`. Executable by
-- the app role only (not PUBLIC, not the confined operator role); the start-up check allows exactly this
-- signature and no other SECURITY DEFINER function (src/db/tenant-catalog.ts, rlsBypassProblems).
CREATE FUNCTION app.tenant_id_by_external_id(external text) RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT t.id FROM public.tenants t WHERE t.external_id = external $$;
REVOKE ALL ON FUNCTION app.tenant_id_by_external_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.tenant_id_by_external_id(text) TO tenantgraph_app;

-- SECURITY: replaces 0004's app.enter_tenant. Still the whole tenant context in one statement of the one-round-trip
-- prologue, every setting transaction-local, running as the invoker (the membership and suspension reads are
-- under RLS, scoped to the tenant just set). New:
--   * `tenant` is a tenant id (digits) or an external id (resolved by app.tenant_id_by_external_id);
--   * `member` is a user id (UUID) or an external subject (users.external_subject); a UUID that is no user's id
--     is tried as an external subject too (Keycloak and Cognito subjects are UUIDs);
--   * a suspended tenant is refused (TG004) for members; the server's bookkeeping (member NULL: audit batches,
--     plan lookups, the CLI's operator tools) still enters it, so its data stays readable to operators;
--   * it returns the tenant and user it entered, so the caller learns the ids behind external names without
--     another round trip.
-- Refusals, all fail-closed (nothing is set that outlives the aborted transaction):
--   TG002 unknown tenant or not a member (DETAIL names the resolved tenant id, when there is one), TG004 suspended.
DROP FUNCTION app.enter_tenant(text, text, integer, integer);
CREATE FUNCTION app.enter_tenant(tenant text, member text, statement_timeout_ms integer, idle_timeout_ms integer)
  RETURNS TABLE (entered_tenant bigint, entered_user uuid)
  LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  tid bigint;
  uid uuid;
  suspended timestamptz;
BEGIN
  IF tenant ~ '^[1-9][0-9]{0,18}$' THEN
    tid := tenant::bigint;
  ELSIF tenant ~ '^[!-&(-[\]-~]{1,255}$' AND tenant !~ '^[0-9]+$' THEN
    tid := app.tenant_id_by_external_id(tenant);
    IF tid IS NULL THEN
      RAISE EXCEPTION 'the token''s tenant is not known here' USING ERRCODE = 'TG002', DETAIL = 'unknown_tenant';
    END IF;
  ELSE
    RAISE EXCEPTION 'tenant must be a positive integer or an external id' USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('app.current_tenant', tid::text, true);
  PERFORM set_config('statement_timeout', statement_timeout_ms::text, true);
  PERFORM set_config('idle_in_transaction_session_timeout', idle_timeout_ms::text, true);
  -- member is NULL only for the server's own bookkeeping, which acts for no user.
  IF member IS NULL THEN
    RETURN QUERY SELECT tid, NULL::uuid;
    RETURN;
  END IF;
  IF member !~ '^[!-&(-[\]-~]{1,255}$' THEN
    RAISE EXCEPTION 'member must be a user id or an external subject' USING ERRCODE = '22023';
  END IF;
  SELECT t.suspended_at INTO suspended FROM tenants t WHERE t.id = tid;
  IF suspended IS NOT NULL THEN
    RAISE EXCEPTION 'the token''s tenant is suspended' USING ERRCODE = 'TG004', DETAIL = tid::text;
  END IF;
  IF member ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    SELECT u.id INTO uid FROM users u WHERE u.id = member::uuid;
  END IF;
  IF uid IS NULL THEN
    SELECT u.id INTO uid FROM users u WHERE u.external_subject = member;
  END IF;
  IF uid IS NULL THEN
    RAISE EXCEPTION 'the token''s user is not a member of its tenant' USING ERRCODE = 'TG002', DETAIL = tid::text;
  END IF;
  PERFORM set_config('app.current_user', uid::text, true);
  RETURN QUERY SELECT tid, uid;
END
$$;
REVOKE ALL ON FUNCTION app.enter_tenant(text, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.enter_tenant(text, text, integer, integer) TO tenantgraph_app, tenantgraph_operator;
