-- Subscriptions in the audit trail (issue 12 §2): a subscription records one audit event when it starts
-- (events_delivered NULL) and one when it ends, with its duration and how many events it delivered. Every other
-- audit event leaves the column NULL.
ALTER TABLE audit_events ADD COLUMN events_delivered integer CHECK (events_delivered >= 0);
