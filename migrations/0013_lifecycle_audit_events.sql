-- Lifecycle events in the tenant's audit trail (issue 13 §1, §2): a suspension, a resumption, a member who joined
-- just in time from a verified token. They are changes made outside a GraphQL operation, so they get their own
-- operation type, `lifecycle`; operation_name says which change (tenant.suspended, tenant.resumed, member.joined)
-- and detail what an operator wrote (the suspension's reason) or the joined member's role.
--
-- The same table as every other audit event (a tenant table under RLS): a tenant's admins read their own
-- suspension history through Query.auditEvents and `cli audit`, and it goes with the tenant's data.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_operation_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_operation_type_check
  CHECK (operation_type IN ('query', 'mutation', 'subscription', 'sql', 'lifecycle'));
ALTER TABLE audit_events ADD COLUMN detail text CHECK (length(detail) BETWEEN 1 AND 500);
