-- An import (src/admin/tenant-import.ts) inserts a tenant's messages and conversations as they were exported,
-- together with the realtime events and positions they had; the realtime trigger (migrations/0010) would record each
-- insert as a new event and move the tenant's position on. The same function, with a guard for that case.
-- SECURITY: the setting only suppresses event rows of the tenant named in it, in the transaction that set it; no
-- data is hidden or changed (subscribers of a tenant being imported have nothing to miss: it did not exist here).
CREATE OR REPLACE FUNCTION app.record_realtime_event() RETURNS trigger
  LANGUAGE plpgsql
AS $$
DECLARE
  next_position bigint;
  event_kind text;
  event_conversation uuid;
  event_message uuid;
BEGIN
  -- `cli tenant import` restores a tenant's rows exactly as exported, realtime_events and realtime_positions
  -- included: the inserts it makes are not new events (a transaction-local setting, only for that tenant's rows).
  IF current_setting('app.restoring_tenant', true) = NEW.tenant_id::text THEN
    RETURN NULL;
  END IF;
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
