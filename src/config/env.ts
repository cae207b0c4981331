import { z } from 'zod';
import { parseClaimPath } from '../auth/claim-path.js';
import { REDIS_CHANNEL_PATTERN, WAKE_CHANNEL } from '../realtime/wake-transport.js';
import { DEFAULT_PLAN_CACHE_TTL_MS } from '../tenancy/plan-limits.js';
import { DEFAULT_PLAN_CACHE_LISTENING_TTL_MS } from '../tenancy/plan-limits-cache.js';

/**
 * The environment, validated once at boot. This is the only module that reads `process.env`.
 *
 * Every problem is reported at once (zod collects all issues), so an operator fixes a broken deployment in one
 * pass instead of one variable per restart.
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);
const optionalUrl = z
  .string()
  .trim()
  .min(1)
  .refine((value) => /^postgres(ql)?:\/\//.test(value), 'must be a postgres:// or postgresql:// URL')
  .optional();

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'on', 'off'])
  .transform((value) => value === 'true' || value === '1' || value === 'on')
  .optional();

const claimPath = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    try {
      parseClaimPath(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
    }
  });

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * Each CORS_ORIGINS entry must be exactly what a browser sends in `Origin` (scheme://host[:port], lower case,
 * no default port, no slash): the CORS check compares strings, so `https://app.example.com/` silently never
 * matched. Every bad entry is named with the fix.
 */
function checkCorsOrigins(origins: string[], ctx: z.RefinementCtx): void {
  const problem = (entry: string, why: string) => ctx.addIssue({ code: 'custom', message: `entry "${entry}" ${why}` });
  if (origins.includes('*') && origins.length > 1) {
    problem('*', 'allows every origin, so the other entries would mean nothing: use `*` alone, or list origins only');
  }
  for (const entry of origins) {
    if (entry === '*') continue;
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      problem(entry, 'is not an origin: expected scheme://host[:port], e.g. https://app.example.com');
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      problem(entry, `has the scheme ${url.protocol} but browsers send http: or https: origins: use e.g. https://app.example.com`);
      continue;
    }
    if (entry === url.origin) continue;
    const why =
      entry === `${url.origin}/`
        ? 'ends with a slash, which browsers never send in Origin'
        : url.pathname !== '/' || url.search || url.hash
          ? 'has a path, query or fragment; an origin is scheme://host[:port] only'
          : url.username || url.password
            ? 'has credentials; an origin is scheme://host[:port] only'
            : 'is not in the form browsers send (lower case, no default port)';
    problem(entry, `${why}: use ${url.origin}`);
  }
}

/** Query shape limits when GRAPHQL_MAX_* are unset; also the defaults of startServer (tests, benchmark). */
export const DEFAULT_QUERY_LIMITS = { maxDepth: 10, maxAliases: 15, maxTokens: 5000, maxDirectives: 20, maxCost: 5000 } as const;

/** Response and connection limits when the HTTP_* / GRAPHQL_MAX_RESPONSE_BYTES settings are unset; also startServer's. */
export const DEFAULT_HTTP_LIMITS = {
  maxResponseBytes: 4 * 1024 * 1024,
  writeTimeoutMs: 10_000,
  maxInFlightPerTenant: 32,
  maxInFlightPerAddress: 8,
} as const;
export type HttpLimits = { [K in keyof typeof DEFAULT_HTTP_LIMITS]: number };

/** Realtime (GraphQL subscriptions) settings when the REALTIME_* variables are unset; also startServer's. */
export const DEFAULT_REALTIME_SETTINGS = {
  batchWindowMs: 10,
  pollIntervalMs: 2000,
  maxEventsPerBatch: 500,
  retentionMs: 24 * 60 * 60 * 1000,
  retentionEvents: 10_000,
  pruneIntervalMs: 60_000,
  maxSubscriptionsPerSocket: 20,
  maxSubscriptionsPerTenant: 2000,
  maxSocketsPerTenant: 1000,
  maxPendingSocketsPerAddress: 16,
  maxPendingSockets: 1000,
  queueMaxEvents: 200,
  queueMaxBytes: 1024 * 1024,
  slowConsumerMs: 10_000,
  redisChannel: WAKE_CHANNEL,
} as const;

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().default('0.0.0.0'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: optionalUrl,
    DATABASE_URL_APP: optionalUrl,
    /** `cli sql` only: a login for tenantgraph_operator (migrations/0007), straight to PostgreSQL, not PgBouncer. */
    DATABASE_URL_OPERATOR: optionalUrl,
    DATA_DIR: z.string().default('.data'),
    EMBEDDED_PG_PORT: positiveInt(54329),
    /**
     * Named (prepared) statements per app connection: `on`, `off`, or `auto` — on for a direct connection, off when
     * DATABASE_URL_APP points at a pooler (`?pgbouncer=true`, a host naming pgbouncer/pooler, port 6432). PgBouncer
     * in transaction mode keeps prepared statements only from 1.21 (`max_prepared_statements`).
     */
    DATABASE_PREPARED_STATEMENTS: z.enum(['on', 'off', 'auto']).default('auto'),
    /**
     * How tenant transactions apply the tenant, and which policy form start-up accepts (docs/citus.md): `standard`
     * (set_config, policies with `(SELECT app.current_tenant_id())`) or `citus` (SET LOCAL with a numeric tenant
     * id, policies without subqueries; switch the policies with `cli tenant-policies --form citus`).
     */
    TENANT_CONTEXT_MODE: z.enum(['standard', 'citus']).default('standard'),
    DB_POOL_MAX: positiveInt(10),
    DB_POOL_ACQUIRE_TIMEOUT_MS: positiveInt(3000),
    DB_STATEMENT_TIMEOUT_MS: positiveInt(5000),
    DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt(10000),
    /**
     * Connections one tenant may hold at once, for every tenant, instead of its plan's connection_share
     * (issue 8 §1). Unset: each plan's share (standard: a quarter of the pool). DB_POOL_MAX turns fairness off.
     */
    TENANT_CONNECTION_SHARE: z.coerce.number().int().positive().optional(),
    /** Connections of the pool kept out of the tenants' fair scheduler for the server's own work (plan lookups, /ready, audit). */
    DB_POOL_RESERVED: nonNegativeInt(0),
    /**
     * How long a tenant's cached plan limits are fresh (then re-read in the background on its next request) while
     * no plan change listener vouches for the notices: the longest a missed plan change is served. 0: read each request.
     */
    PLAN_CACHE_TTL_MS: nonNegativeInt(DEFAULT_PLAN_CACHE_TTL_MS),
    /** The same while the plan change listener vouches for the notices (every change evicts on commit); at least PLAN_CACHE_TTL_MS. */
    PLAN_CACHE_LISTENING_TTL_MS: positiveInt(DEFAULT_PLAN_CACHE_LISTENING_TTL_MS),
    /**
     * A direct connection to PostgreSQL as the app role (not through PgBouncer: LISTEN needs a session) that hears
     * plan changes (migrations/0021). Unset: REALTIME_LISTEN_DATABASE_URL, or the embedded database's app URL; with
     * an external database and neither set, or with TENANT_CONTEXT_MODE=citus, no listener (docs/citus.md).
     */
    PLAN_LISTEN_DATABASE_URL: optionalUrl,
    /** Where request rate counters live: this process (memory) or PostgreSQL shared by all replicas (needs RATE_LIMIT_DATABASE_URL). */
    RATE_LIMIT_STORE: z.enum(['memory', 'postgres']).default('memory'),
    RATE_LIMIT_DATABASE_URL: optionalUrl,
    /** Statements slower than this are logged (warn) with tenant and request id; 0 turns the log off. */
    DB_SLOW_STATEMENT_MS: nonNegativeInt(500),
    /** On SIGTERM/SIGINT, requests in flight may finish for this long before their transactions are rolled back. */
    SHUTDOWN_TIMEOUT_MS: positiveInt(10000),
    /** Buffered audit events (reads, refused requests) are written at least this often; also the retry pause. */
    AUDIT_FLUSH_INTERVAL_MS: positiveInt(1000),
    /** At most this many buffered audit events per write (one transaction, one round trip). */
    AUDIT_BATCH_MAX_EVENTS: positiveInt(500),
    /** The audit loss bound: at most this many events wait unwritten; more are dropped and counted. */
    AUDIT_BUFFER_MAX_EVENTS: positiveInt(10000),
    /** Comma-separated GraphQL operation names that label metrics besides the SDK's own; others count as "other". */
    METRICS_OPERATION_NAMES: commaList
      .refine((names) => names.every((name) => /^[_A-Za-z][_0-9A-Za-z]*$/.test(name)), 'must be comma-separated GraphQL operation names')
      .default([]),
    /** Node process metrics (CPU, memory, event loop lag, GC) on /metrics. */
    METRICS_PROCESS: booleanFlag,

    JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 key)').optional(),
    JWT_JWKS_URL: z.string().url().optional(),
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    /** Claim path of the tenant (src/auth/claim-path.ts): `tenant_id`, `org.id`, `https://example.com/tenant`, `["a.b"].c`. */
    JWT_TENANT_CLAIM: claimPath.default('tenant_id'),
    /** Claim path of the member: a user id or an external subject (users.external_subject). */
    JWT_SUBJECT_CLAIM: claimPath.default('sub'),
    /** Seconds of clock difference to the identity provider tolerated on exp, nbf and iat. */
    JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(0),
    /** Just-in-time membership: a verified token of a known tenant makes its subject a member (off by default). */
    JWT_JIT_MEMBERSHIP: booleanFlag,
    /** Claim path of a just-in-time member's role: `admin`/`org:admin` is ADMIN, anything else MEMBER. */
    JWT_ROLE_CLAIM: claimPath.default('org_role'),
    /** Identity provider keys: a fetched key set is trusted this long (the bound on a removed key). */
    JWT_JWKS_MAX_AGE_MS: z.coerce.number().int().min(1000).max(86_400_000).default(300_000),
    /** Identity provider keys: unknown kids refetch the key set at most this often. */
    JWT_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),

    HTTP_BODY_LIMIT_BYTES: positiveInt(1_000_000),
    /** Comma-separated origins allowed by CORS (`*`: any); in development Apollo Studio and localhost are always allowed. */
    CORS_ORIGINS: commaList.superRefine(checkCorsOrigins).default([]),
    /** Request headers CORS allows besides the defaults (server/cors-policy.ts), comma-separated. */
    CORS_ALLOWED_HEADERS: commaList
      .refine((names) => names.every((name) => HEADER_NAME.test(name)), 'must be comma-separated HTTP header names (letters, digits, - and _)')
      .default([]),
    /** Apollo Sandbox at /graphql and the offline explorer at /graphiql; on in development, off in production. */
    GRAPHQL_EXPLORER: booleanFlag,
    GRAPHQL_INTROSPECTION: booleanFlag,
    /** Path of a trusted-documents manifest (persisted-documents.json): only its operations run (README). */
    GRAPHQL_TRUSTED_DOCUMENTS: z.string().trim().min(1).optional(),
    GRAPHQL_MAX_DEPTH: positiveInt(DEFAULT_QUERY_LIMITS.maxDepth),
    GRAPHQL_MAX_ALIASES: positiveInt(DEFAULT_QUERY_LIMITS.maxAliases),
    GRAPHQL_MAX_TOKENS: positiveInt(DEFAULT_QUERY_LIMITS.maxTokens),
    GRAPHQL_MAX_DIRECTIVES: positiveInt(DEFAULT_QUERY_LIMITS.maxDirectives),
    GRAPHQL_MAX_COST: positiveInt(DEFAULT_QUERY_LIMITS.maxCost),
    /** Larger GraphQL responses are refused with RESPONSE_TOO_LARGE (a mutation is rolled back). */
    GRAPHQL_MAX_RESPONSE_BYTES: positiveInt(DEFAULT_HTTP_LIMITS.maxResponseBytes),
    /** A response whose client reads nothing for this long is dropped and its memory freed. */
    HTTP_WRITE_TIMEOUT_MS: positiveInt(DEFAULT_HTTP_LIMITS.writeTimeoutMs),
    /** GraphQL requests of one tenant in flight at once; more get 429 TOO_MANY_CONCURRENT_REQUESTS. */
    HTTP_MAX_IN_FLIGHT_PER_TENANT: positiveInt(DEFAULT_HTTP_LIMITS.maxInFlightPerTenant),
    /** GraphQL requests without a token from one remote address in flight at once. */
    HTTP_MAX_IN_FLIGHT_PER_ADDRESS: positiveInt(DEFAULT_HTTP_LIMITS.maxInFlightPerAddress),
    SEED_DEMO_DATA: booleanFlag,

    /**
     * A direct connection to PostgreSQL (not through PgBouncer: LISTEN needs a session) for realtime wake-ups
     * between replicas. Any login works: LISTEN/NOTIFY need no table grants. Unset with an external database:
     * each replica sees other replicas' events through polling only (REALTIME_POLL_INTERVAL_MS).
     */
    REALTIME_LISTEN_DATABASE_URL: optionalUrl,
    /**
     * Redis (`redis://…`, `rediss://…` for TLS) for realtime wake-ups between replicas, over pub/sub. Unset: no
     * Redis. Set, it replaces the embedded database's implicit LISTEN connection; with REALTIME_LISTEN_DATABASE_URL
     * set too, wake-ups travel over both. Unreachable at start-up: the server refuses to start.
     */
    REALTIME_REDIS_URL: z
      .string()
      .url()
      .refine((url) => URL.canParse(url) && /^rediss?:$/.test(new URL(url).protocol), 'must be a redis:// or rediss:// URL')
      .optional(),
    /** The Redis channel (prefix) the replicas of one deployment share; distinct deployments on one Redis use distinct ones. */
    REALTIME_REDIS_CHANNEL: z
      .string()
      .regex(REDIS_CHANNEL_PATTERN, 'must consist of letters, digits and _ . : - only (it is used in a PSUBSCRIBE pattern)')
      .default(DEFAULT_REALTIME_SETTINGS.redisChannel),
    /** A wake-up waits this long for more events before its tenant's batch runs. */
    REALTIME_BATCH_WINDOW_MS: nonNegativeInt(DEFAULT_REALTIME_SETTINGS.batchWindowMs),
    /** The polling safety net: tenants with subscribers are re-read this often even without a wake-up. */
    REALTIME_POLL_INTERVAL_MS: positiveInt(DEFAULT_REALTIME_SETTINGS.pollIntervalMs),
    /** Events read per tenant batch at most (a resume far behind catches up in several batches). */
    REALTIME_MAX_EVENTS_PER_BATCH: positiveInt(DEFAULT_REALTIME_SETTINGS.maxEventsPerBatch),
    /** Resume retention by age (default 24 h) and by count per tenant (default 10,000). */
    REALTIME_RETENTION_MS: positiveInt(DEFAULT_REALTIME_SETTINGS.retentionMs),
    REALTIME_RETENTION_EVENTS: positiveInt(DEFAULT_REALTIME_SETTINGS.retentionEvents),
    /** How often events past retention are deleted. */
    REALTIME_PRUNE_INTERVAL_MS: positiveInt(DEFAULT_REALTIME_SETTINGS.pruneIntervalMs),
    REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: positiveInt(DEFAULT_REALTIME_SETTINGS.maxSubscriptionsPerSocket),
    /** Authenticated WebSockets of one tenant on one server; more are closed with 4430. */
    REALTIME_MAX_SOCKETS_PER_TENANT: positiveInt(DEFAULT_REALTIME_SETTINGS.maxSocketsPerTenant),
    /**
     * WebSockets of one remote address (counted as HTTP_MAX_IN_FLIGHT_PER_ADDRESS counts) that have not completed
     * connection_init; more are refused with HTTP 429 before the upgrade. Authenticated sockets do not count.
     */
    REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS: positiveInt(DEFAULT_REALTIME_SETTINGS.maxPendingSocketsPerAddress),
    /** Such sockets on one server over all addresses. */
    REALTIME_MAX_PENDING_SOCKETS: positiveInt(DEFAULT_REALTIME_SETTINGS.maxPendingSockets),
    /** Subscriptions of one tenant on one server. */
    REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT: positiveInt(DEFAULT_REALTIME_SETTINGS.maxSubscriptionsPerTenant),
    /** Each subscriber's queue of unsent events; while full, it receives nothing more (events wait in the table). */
    REALTIME_QUEUE_MAX_EVENTS: positiveInt(DEFAULT_REALTIME_SETTINGS.queueMaxEvents),
    REALTIME_QUEUE_MAX_BYTES: positiveInt(DEFAULT_REALTIME_SETTINGS.queueMaxBytes),
    /** A subscriber whose queue stays full this long is dropped as a slow consumer. */
    REALTIME_SLOW_CONSUMER_MS: positiveInt(DEFAULT_REALTIME_SETTINGS.slowConsumerMs),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    // SECURITY: production never falls back to the embedded database or a generated secret.
    for (const key of ['DATABASE_URL', 'DATABASE_URL_APP'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required when NODE_ENV=production' });
    }
    if (!env.JWT_SECRET && !env.JWT_JWKS_URL && !env.JWT_ISSUER) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'JWT_SECRET, JWT_JWKS_URL or JWT_ISSUER (OpenID Connect discovery) is required when NODE_ENV=production',
      });
    }
  })
  .superRefine((env, ctx) => {
    if (env.RATE_LIMIT_STORE === 'postgres' && !env.RATE_LIMIT_DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['RATE_LIMIT_DATABASE_URL'],
        message: 'is required when RATE_LIMIT_STORE=postgres (a database and role that may create the rate limiter table; not the app role)',
      });
    }
    if (env.DB_POOL_RESERVED >= env.DB_POOL_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['DB_POOL_RESERVED'],
        message: `must be less than DB_POOL_MAX (${env.DB_POOL_MAX}), received ${env.DB_POOL_RESERVED}`,
      });
    }
    if (env.PLAN_CACHE_LISTENING_TTL_MS < env.PLAN_CACHE_TTL_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PLAN_CACHE_LISTENING_TTL_MS'],
        message: `must not be shorter than PLAN_CACHE_TTL_MS (${env.PLAN_CACHE_TTL_MS}), received ${env.PLAN_CACHE_LISTENING_TTL_MS}`,
      });
    }
    if (env.REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET > env.REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT) {
      ctx.addIssue({
        code: 'custom',
        path: ['REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET'],
        message: `must not exceed REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT (${env.REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT})`,
      });
    }
    if (env.REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS > env.REALTIME_MAX_PENDING_SOCKETS) {
      ctx.addIssue({
        code: 'custom',
        path: ['REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS'],
        message: `must not exceed REALTIME_MAX_PENDING_SOCKETS (${env.REALTIME_MAX_PENDING_SOCKETS})`,
      });
    }
    if (env.AUDIT_BATCH_MAX_EVENTS > env.AUDIT_BUFFER_MAX_EVENTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUDIT_BATCH_MAX_EVENTS'],
        message: `must not exceed AUDIT_BUFFER_MAX_EVENTS (${env.AUDIT_BUFFER_MAX_EVENTS})`,
      });
    }
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.DATABASE_URL) !== Boolean(env.DATABASE_URL_APP)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.DATABASE_URL ? 'DATABASE_URL_APP' : 'DATABASE_URL'],
        message: 'set DATABASE_URL (owner, runs migrations) and DATABASE_URL_APP (app role) together, or neither for the embedded database',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/**
 * Where the keys that verify tokens come from: an explicit JWKS (JWT_JWKS_URL), the shared HS256 secret
 * (JWT_SECRET), OpenID Connect discovery from JWT_ISSUER (neither of the two set), or — nothing set, outside
 * production — the development secret generated under DATA_DIR. The server and the CLI decide with this one function.
 */
export function jwtKeySource(env: Env): 'jwks' | 'secret' | 'discovery' | 'dev-secret' {
  if (env.JWT_JWKS_URL) return 'jwks';
  if (env.JWT_SECRET) return 'secret';
  if (env.JWT_ISSUER) return 'discovery';
  return 'dev-secret';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (default `process.env`); throws {@link ConfigError} listing every problem. */
export function loadEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`));
  }
  return result.data;
}
