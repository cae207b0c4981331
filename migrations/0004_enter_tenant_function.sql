-- SECURITY: the whole tenant context of a request transaction in one statement, so the transaction prologue is
-- exactly two statements (`start transaction …; select app.enter_tenant(…)`) in one round trip. Every setting is
-- transaction-local (set_config(…, true)): it ends with the transaction and never reaches the next user of a
-- pooled connection. It runs as the invoker, so the membership check sees only the tenant's own users (RLS), and
-- it grants nothing: the app role could call set_config itself.
CREATE FUNCTION app.enter_tenant(tenant text, member text, statement_timeout_ms integer, idle_timeout_ms integer)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF tenant IS NULL OR tenant !~ '^[1-9][0-9]{0,18}$' THEN
    RAISE EXCEPTION 'tenant id must be a positive integer' USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('app.current_tenant', tenant, true);
  PERFORM set_config('statement_timeout', statement_timeout_ms::text, true);
  PERFORM set_config('idle_in_transaction_session_timeout', idle_timeout_ms::text, true);
  -- member is NULL only for the server's own bookkeeping (batched audit events), which acts for no user.
  IF member IS NOT NULL THEN
    PERFORM set_config('app.current_user', member, true);
    IF NOT EXISTS (SELECT FROM users WHERE id = member::uuid) THEN
      RAISE EXCEPTION 'the token''s user is not a member of its tenant' USING ERRCODE = 'TG002';
    END IF;
  END IF;
END
$$;
REVOKE ALL ON FUNCTION app.enter_tenant(text, text, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.enter_tenant(text, text, integer, integer) TO tenantgraph_app;

-- Superseded by app.enter_tenant.
DROP FUNCTION app.assert_member();
