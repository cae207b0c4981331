-- Realtime (issue 12): the per-tenant event stream that GraphQL subscriptions read.
--
-- Every write a subscriber can see (a message posted; a conversation created, renamed or archived) records an
-- event in the writer's own transaction, by trigger, so no code path can forget it and no write costs an extra
-- round trip. An event holds ids and a kind only, never row data: payloads are read at delivery time, under the
-- subscriber's tenant's RLS, with the normal resolvers.
--
-- Positions are commit-ordered and gap-free per tenant. The trigger takes the next position from the tenant's
-- counter row (realtime_positions) with an UPDATE, which row-locks it until the writer commits or rolls back:
-- a second writer of the same tenant gets the next position only after the first has committed (or, after a
-- rollback, the same position again). So the events any snapshot sees are always positions 1..N with no hole,
-- and a reader that remembers "the last position I delivered" can never miss an event committed late (a
-- sequence or created_at would not give this: commit order is not sequence order). The price: writes of one
-- tenant that record events serialise from their first event to their commit; other tenants are unaffected.
--
-- No NOTIFY here: NOTIFY inside a transaction takes a database-wide lock at commit. The API wakes subscribers
-- after the commit, outside the writer's transaction (src/realtime/).

CREATE TABLE realtime_positions (
  tenant_id bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  -- The position of the tenant's newest event (0: none yet).
  position  bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
  PRIMARY KEY (tenant_id)
);
SELECT app.enable_tenant_rls('realtime_positions');

CREATE TABLE realtime_events (
  tenant_id       bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  position        bigint NOT NULL CHECK (position > 0),
  kind            text NOT NULL CHECK (kind IN ('MESSAGE_POSTED', 'CONVERSATION_CREATED', 'CONVERSATION_RENAMED', 'CONVERSATION_ARCHIVED')),
  conversation_id uuid NOT NULL,
  message_id      uuid CHECK ((kind = 'MESSAGE_POSTED') = (message_id IS NOT NULL)),
  occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, position),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, message_id) REFERENCES messages (tenant_id, id) ON DELETE CASCADE
);
SELECT app.enable_tenant_rls('realtime_events');
-- Retention by age (the pruning job) scans this; replay and fan-out read the primary key range.
CREATE INDEX realtime_events_tenant_occurred_idx ON realtime_events (tenant_id, occurred_at);

-- Runs as the invoker (the writer), so both statements are under the writer's RLS: a writer can only record
-- events of its own tenant. NEW.tenant_id is the row's tenant, which RLS already tied to the current tenant.
CREATE FUNCTION app.record_realtime_event() RETURNS trigger
  LANGUAGE plpgsql
AS $$
DECLARE
  next_position bigint;
  event_kind text;
  event_conversation uuid;
  event_message uuid;
BEGIN
  -- NEW is a messages or a conversations row: read only the fields of the table that fired (PL/pgSQL resolves
  -- NEW.field per statement, so a field of the other table must not appear in a statement that runs).
  IF TG_TABLE_NAME = 'messages' THEN
    event_kind := 'MESSAGE_POSTED';
    event_conversation := NEW.conversation_id;
    event_message := NEW.id;
  ELSE
    event_conversation := NEW.id;
    IF TG_OP = 'INSERT' THEN
      event_kind := 'CONVERSATION_CREATED';
    ELSIF NEW.archived AND NOT OLD.archived THEN
      event_kind := 'CONVERSATION_ARCHIVED';
    ELSE
      event_kind := 'CONVERSATION_RENAMED';
    END IF;
  END IF;
  INSERT INTO realtime_positions AS p (tenant_id, position) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET position = p.position + 1
    RETURNING p.position INTO next_position;
  INSERT INTO realtime_events (tenant_id, position, kind, conversation_id, message_id)
    VALUES (NEW.tenant_id, next_position, event_kind, event_conversation, event_message);
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION app.record_realtime_event() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.record_realtime_event() TO tenantgraph_app, tenantgraph_operator;

CREATE TRIGGER messages_record_realtime_event AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION app.record_realtime_event();
CREATE TRIGGER conversations_record_created_event AFTER INSERT ON conversations
  FOR EACH ROW EXECUTE FUNCTION app.record_realtime_event();
-- Only a changed title or a first archival is an event; the message counter's UPDATE (SET message_count) is not.
CREATE TRIGGER conversations_record_changed_event AFTER UPDATE OF title, archived ON conversations
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR (NEW.archived AND NOT OLD.archived))
  EXECUTE FUNCTION app.record_realtime_event();

-- Writers record events (the trigger); the API reads them and prunes what is past retention (DELETE, events only).
-- The operator role holds exactly the app role's rights (migrations/0007).
GRANT SELECT, INSERT, UPDATE (position) ON realtime_positions TO tenantgraph_app, tenantgraph_operator;
GRANT SELECT, INSERT, DELETE ON realtime_events TO tenantgraph_app, tenantgraph_operator;
