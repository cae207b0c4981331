-- Tenant-owned tables. The checklist every one of them follows (README, "Adding a tenant-owned table"):
--   * tenant_id bigint NOT NULL DEFAULT app.current_tenant_id(), first column of the primary key and of every unique constraint and index;
--   * foreign keys to other tenant tables are composite (tenant_id, ...): FK checks ignore RLS, so a
--     single-column key could point at another tenant's row;
--   * ENABLE + FORCE ROW LEVEL SECURITY, one permissive policy that grants the rows and one RESTRICTIVE
--     policy holding the tenant predicate, so a permissive policy added later can never widen it;
--   * DML grants to tenantgraph_app only as far as the API needs them.
--
-- Ids are random UUIDs rather than sequences: a sequence shared by all tenants lets any client estimate how
-- many rows other tenants create between two of its own requests.

CREATE TABLE tenants (
  id         bigint PRIMARY KEY DEFAULT (1 + floor(random() * 999999999999))::bigint CHECK (id > 0),
  name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE user_role AS ENUM ('ADMIN', 'MEMBER');

CREATE TABLE users (
  tenant_id    bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  id           uuid NOT NULL DEFAULT gen_random_uuid(),
  email        text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  role         user_role NOT NULL DEFAULT 'MEMBER',
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
-- Email is unique within a tenant, case-insensitively; the same address may belong to several tenants.
CREATE UNIQUE INDEX users_tenant_email_key ON users (tenant_id, lower(email));
CREATE INDEX users_tenant_created_idx ON users (tenant_id, created_at, id);

CREATE TABLE conversations (
  tenant_id     bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  id            uuid NOT NULL DEFAULT gen_random_uuid(),
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  archived      boolean NOT NULL DEFAULT false,
  created_by    uuid NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Maintained by a trigger on messages so messageCount and MessageConnection.totalCount cost no query.
  message_count integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
);
CREATE INDEX conversations_tenant_created_idx ON conversations (tenant_id, created_at DESC, id DESC);
CREATE INDEX conversations_tenant_archived_created_idx ON conversations (tenant_id, archived, created_at DESC, id DESC);

CREATE TABLE messages (
  tenant_id       bigint NOT NULL DEFAULT app.current_tenant_id() REFERENCES tenants (id) ON DELETE CASCADE,
  id              uuid NOT NULL DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL,
  author_id       uuid NOT NULL,
  body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX messages_tenant_conversation_created_idx ON messages (tenant_id, conversation_id, created_at DESC, id DESC);
CREATE INDEX messages_tenant_author_idx ON messages (tenant_id, author_id);

-- Runs as the invoker, so the counter update is itself under RLS (it can only touch the same tenant's row).
CREATE FUNCTION app.bump_message_count() RETURNS trigger
  LANGUAGE plpgsql
AS $$
BEGIN
  UPDATE conversations SET message_count = message_count + 1
   WHERE tenant_id = NEW.tenant_id AND id = NEW.conversation_id;
  RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION app.bump_message_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.bump_message_count() TO tenantgraph_app;
CREATE TRIGGER messages_bump_message_count AFTER INSERT ON messages
  FOR EACH ROW EXECUTE FUNCTION app.bump_message_count();

-- Refuses the request's transaction when its user is not a member of its tenant (see app.current_user_id()).
CREATE FUNCTION app.assert_member() RETURNS void
  LANGUAGE plpgsql STABLE
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM users WHERE id = app.current_user_id()) THEN
    RAISE EXCEPTION 'the token''s user is not a member of its tenant' USING ERRCODE = 'TG002';
  END IF;
END
$$;
REVOKE ALL ON FUNCTION app.assert_member() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.assert_member() TO tenantgraph_app;

-- Row Level Security on every tenant table, tenants included (keyed by id there).
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON tenants AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true);
CREATE POLICY tenant_isolation ON tenants AS RESTRICTIVE FOR ALL
  USING (id = (SELECT app.current_tenant_id()))
  WITH CHECK (id = (SELECT app.current_tenant_id()));

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'conversations', 'messages'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_rows ON %I AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true)', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I AS RESTRICTIVE FOR ALL '
      'USING (tenant_id = (SELECT app.current_tenant_id())) '
      'WITH CHECK (tenant_id = (SELECT app.current_tenant_id()))', t);
  END LOOP;
END
$$;

-- Least privilege: only what the API does. No DELETE anywhere, no UPDATE of users or messages.
GRANT SELECT ON tenants TO tenantgraph_app;
GRANT SELECT, INSERT ON users TO tenantgraph_app;
GRANT SELECT, INSERT, UPDATE (title, archived, message_count) ON conversations TO tenantgraph_app;
GRANT SELECT, INSERT ON messages TO tenantgraph_app;
