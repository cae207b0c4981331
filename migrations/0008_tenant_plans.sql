-- Plans (issue 8 §1): what each tenant may use of the shared server. A tenant's plan is a column of its row
-- (read under RLS like the rest of it); the limits of each plan are one shared row per plan, the same for every
-- tenant on it, so they are reference data, not tenant data: the app role may read them and nothing else.
-- Changing a tenant's plan or a plan's limits takes effect without a restart (the server caches them for
-- PLAN_CACHE_TTL_MS, see src/tenancy/plan-limits.ts).
CREATE TABLE plan_limits (
  plan                 text PRIMARY KEY CHECK (plan ~ '^[a-z][a-z0-9_]{0,39}$'),
  -- Sustained request rate and the burst allowed above it (rate limiter, HTTP 429 RATE_LIMITED).
  requests_per_second  integer NOT NULL CHECK (requests_per_second > 0),
  burst                integer NOT NULL CHECK (burst >= requests_per_second),
  -- The fraction of the pool's connections one tenant may hold at once (fair scheduler); at least one.
  connection_share     numeric(4, 3) NOT NULL CHECK (connection_share > 0 AND connection_share <= 1),
  -- Per statement (capped by DB_STATEMENT_TIMEOUT_MS) and for the whole request (HTTP 503 REQUEST_TIMEOUT).
  statement_timeout_ms integer NOT NULL CHECK (statement_timeout_ms > 0),
  request_timeout_ms   integer NOT NULL CHECK (request_timeout_ms > 0)
);
COMMENT ON TABLE plan_limits IS 'Shared reference data: one row per plan, no tenant data; the app role may only read it.';

INSERT INTO plan_limits (plan, requests_per_second, burst, connection_share, statement_timeout_ms, request_timeout_ms) VALUES
  ('free',        5,   10, 0.125,  2000,  3000),
  ('standard',   50,  100, 0.25,   5000,  8000),
  ('enterprise', 200, 400, 0.5,   15000, 20000);

ALTER TABLE tenants ADD COLUMN plan text NOT NULL DEFAULT 'standard' REFERENCES plan_limits (plan);

-- The confined operator role (0007) holds exactly the app role's rights (test/rls/catalog.test.ts).
GRANT SELECT ON plan_limits TO tenantgraph_app, tenantgraph_operator;
