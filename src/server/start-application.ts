import { issueToken } from '../auth/token-issuer.js';
import { listTenantAdmins } from '../admin/tenants.js';
import { seedDemoData } from '../admin/demo-data.js';
import { ConfigError, jwtKeySource, loadEnv, type Env } from '../config/env.js';
import { loadTrustedDocuments, type TrustedDocuments } from './trusted/trusted-documents.js';
import { loadDevSecrets } from '../config/dev-secrets.js';
import { DatabaseRefusal } from '../db/database-refusal.js';
import { WakeTransportUnavailable } from '../realtime/wake-transport.js';
import { prepareDatabase } from '../db/prepare-database.js';
import { createLogger } from './logger.js';
import { startServer } from './create-server.js';
import { StartupRefused, type ProcessLifecycle } from './process-lifecycle.js';

/** How long stopping may take beyond the requests' own shutdown budget: closing pools, stopping PostgreSQL. */
const STOP_MARGIN_MS = 15_000;

/**
 * Start-up of `npm start`: validate the environment, find (or start) the database, migrate, seed demo data when
 * empty, serve, print the URL and the demo headers. Each part registers how to stop it with the lifecycle right
 * after it came up, and start-up checks between steps whether a stop was requested meanwhile. On stop: the HTTP
 * server (drain, see shutdown.ts), then the pool, then the embedded PostgreSQL.
 */
export async function startApplication(lifecycle: ProcessLifecycle): Promise<void> {
  let env: Env;
  let trustedDocuments: TrustedDocuments | undefined;
  try {
    env = loadEnv();
    try {
      trustedDocuments = env.GRAPHQL_TRUSTED_DOCUMENTS ? loadTrustedDocuments(env.GRAPHQL_TRUSTED_DOCUMENTS) : undefined;
    } catch (error) {
      throw new ConfigError([(error as Error).message]);
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    throw new StartupRefused();
  }
  const production = env.NODE_ENV === 'production';
  const logger = createLogger({ level: env.LOG_LEVEL, pretty: !production && process.stdout.isTTY });
  lifecycle.log = logger;
  lifecycle.hardDeadlineMs = env.SHUTDOWN_TIMEOUT_MS + STOP_MARGIN_MS;

  if (trustedDocuments) logger.info(`trusted documents only: ${trustedDocuments.byId.size} operations from ${env.GRAPHQL_TRUSTED_DOCUMENTS}`);
  logger.info(env.DATABASE_URL ? 'using the configured PostgreSQL' : `starting embedded PostgreSQL (data in ${env.DATA_DIR}/postgres)`);
  const database = await refusingCleanly(
    prepareDatabase(env, {
      migrate: true,
      // Between the embedded PostgreSQL coming up and migrating: prepareDatabase stops the former if this throws.
      progress: (step) => {
        lifecycle.checkpoint();
        logger.info(step);
      },
    }),
  );
  lifecycle.onStop('PostgreSQL', () => database.stop());
  lifecycle.checkpoint();
  const keySource = jwtKeySource(env);
  const jwtSecret = keySource === 'secret' ? env.JWT_SECRET : keySource === 'dev-secret' ? (await loadDevSecrets(env.DATA_DIR)).jwtSecret : undefined;

  if (env.SEED_DEMO_DATA ?? !production) {
    logger.info('seeding demo data if the database has no tenants');
    const seeded = await seedDemoData(database.ownerUrl);
    if (seeded.length) logger.info(`seeded ${seeded.length} demo tenants`);
    lifecycle.checkpoint();
  }
  const server = await refusingCleanly(
    startServer({
      appUrl: database.appUrl,
      port: env.PORT,
      host: env.HOST,
      production,
      introspection: env.GRAPHQL_INTROSPECTION ?? !production,
      ...(trustedDocuments ? { trustedDocuments } : {}),
      limits: {
        maxDepth: env.GRAPHQL_MAX_DEPTH,
        maxAliases: env.GRAPHQL_MAX_ALIASES,
        maxTokens: env.GRAPHQL_MAX_TOKENS,
        maxDirectives: env.GRAPHQL_MAX_DIRECTIVES,
        maxCost: env.GRAPHQL_MAX_COST,
      },
      jwt: {
        secret: jwtSecret,
        jwksUrl: env.JWT_JWKS_URL,
        issuer: env.JWT_ISSUER,
        audience: env.JWT_AUDIENCE,
        tenantClaim: env.JWT_TENANT_CLAIM,
        subjectClaim: env.JWT_SUBJECT_CLAIM,
        clockToleranceSeconds: env.JWT_CLOCK_TOLERANCE_S,
        jwksMaxAgeMs: env.JWT_JWKS_MAX_AGE_MS,
        jwksCooldownMs: env.JWT_JWKS_COOLDOWN_MS,
        ...(env.JWT_JIT_MEMBERSHIP ? { justInTime: { roleClaim: env.JWT_ROLE_CLAIM } } : {}),
      },
      pool: { max: env.DB_POOL_MAX, acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS, preparedStatements: env.DATABASE_PREPARED_STATEMENTS },
      tenantContext: env.TENANT_CONTEXT_MODE,
      fairShare: {
        reservedConnections: env.DB_POOL_RESERVED,
        ...(env.TENANT_CONNECTION_SHARE ? { connectionsPerTenant: env.TENANT_CONNECTION_SHARE } : {}),
        planCacheTtlMs: env.PLAN_CACHE_TTL_MS,
        planCacheListeningTtlMs: env.PLAN_CACHE_LISTENING_TTL_MS,
        planListenUrl: planListenUrl(env, database.appUrl),
        rateLimitStore:
          env.RATE_LIMIT_DATABASE_URL && env.RATE_LIMIT_STORE === 'postgres'
            ? { kind: 'postgres', url: env.RATE_LIMIT_DATABASE_URL }
            : { kind: 'memory' },
      },
      transaction: {
        statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
        idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
      bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
      http: {
        maxResponseBytes: env.GRAPHQL_MAX_RESPONSE_BYTES,
        writeTimeoutMs: env.HTTP_WRITE_TIMEOUT_MS,
        maxInFlightPerTenant: env.HTTP_MAX_IN_FLIGHT_PER_TENANT,
        maxInFlightPerAddress: env.HTTP_MAX_IN_FLIGHT_PER_ADDRESS,
      },
      corsOrigins: env.CORS_ORIGINS,
      corsAllowedHeaders: env.CORS_ALLOWED_HEADERS,
      explorer: env.GRAPHQL_EXPLORER ?? !production,
      logger,
      slowStatementMs: env.DB_SLOW_STATEMENT_MS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      audit: { flushIntervalMs: env.AUDIT_FLUSH_INTERVAL_MS, batchSize: env.AUDIT_BATCH_MAX_EVENTS, maxPending: env.AUDIT_BUFFER_MAX_EVENTS },
      metrics: { operationNames: env.METRICS_OPERATION_NAMES, processMetrics: env.METRICS_PROCESS ?? true },
      realtime: {
        // The embedded PostgreSQL is reached directly, so its app URL can LISTEN; an external one may sit behind
        // PgBouncer, so only an explicit REALTIME_LISTEN_DATABASE_URL is used there. Redis, when configured, takes
        // the place of that implicit LISTEN; an explicit LISTEN URL runs beside it.
        listenUrl: env.REALTIME_LISTEN_DATABASE_URL ?? (env.DATABASE_URL || env.REALTIME_REDIS_URL ? null : database.appUrl),
        redisUrl: env.REALTIME_REDIS_URL ?? null,
        redisChannel: env.REALTIME_REDIS_CHANNEL,
        batchWindowMs: env.REALTIME_BATCH_WINDOW_MS,
        pollIntervalMs: env.REALTIME_POLL_INTERVAL_MS,
        maxEventsPerBatch: env.REALTIME_MAX_EVENTS_PER_BATCH,
        retentionMs: env.REALTIME_RETENTION_MS,
        retentionEvents: env.REALTIME_RETENTION_EVENTS,
        pruneIntervalMs: env.REALTIME_PRUNE_INTERVAL_MS,
        maxSubscriptionsPerSocket: env.REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET,
        maxSubscriptionsPerTenant: env.REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT,
        maxSocketsPerTenant: env.REALTIME_MAX_SOCKETS_PER_TENANT,
        maxPendingSocketsPerAddress: env.REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS,
        maxPendingSockets: env.REALTIME_MAX_PENDING_SOCKETS,
        queueMaxEvents: env.REALTIME_QUEUE_MAX_EVENTS,
        queueMaxBytes: env.REALTIME_QUEUE_MAX_BYTES,
        slowConsumerMs: env.REALTIME_SLOW_CONSUMER_MS,
      },
      // GET /ready checks, as the owner, that every migration is applied (it just migrated, unless that failed).
      migrations: { ownerUrl: database.ownerUrl },
    }),
  );
  lifecycle.onStop('the API server', () => {
    logger.info(`requests in flight may finish for ${env.SHUTDOWN_TIMEOUT_MS} ms`);
    return server.close();
  });
  lifecycle.checkpoint();

  console.log(`\nTenantgraph is running: ${server.url}`);
  if (server.explorerUrl) {
    console.log(`  Apollo Sandbox:   ${server.url} (open in a browser; its UI comes from Apollo's CDN)`);
    console.log(`  Offline explorer: ${server.explorerUrl} (GraphiQL served by this server, no internet needed)`);
  }
  if (!production && jwtSecret) await printDemoHeaders(database.ownerUrl, jwtSecret, env);
}

/**
 * An unsafe database or an edited applied migration is the operator's to fix, not a bug: print every problem with
 * its fix, as configuration errors are printed, without a stack trace, and exit 1 (the lifecycle stops whatever
 * start-up brought up).
 */
async function refusingCleanly<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    if (!(error instanceof DatabaseRefusal || error instanceof WakeTransportUnavailable)) throw error;
    process.stderr.write(`${error.message}\n`);
    throw new StartupRefused();
  }
}

/**
 * Where plan changes are heard (PLAN_LISTEN_DATABASE_URL). The embedded PostgreSQL is reached directly, so its app
 * URL can LISTEN; an external one may sit behind PgBouncer, so only an explicit URL is used there, the realtime
 * LISTEN URL being one. In the Citus mode the triggers of migrations/0021 fire where the placements of the
 * reference tables are, so only an explicit PLAN_LISTEN_DATABASE_URL turns the listener on (docs/citus.md).
 */
export function planListenUrl(env: Env, embeddedAppUrl: string): string | null {
  if (env.PLAN_LISTEN_DATABASE_URL) return env.PLAN_LISTEN_DATABASE_URL;
  if (env.TENANT_CONTEXT_MODE === 'citus') return null;
  return env.REALTIME_LISTEN_DATABASE_URL ?? (env.DATABASE_URL ? null : embeddedAppUrl);
}

async function printDemoHeaders(ownerUrl: string, secret: string, env: Env): Promise<void> {
  const admins = await listTenantAdmins(ownerUrl, 5).catch(() => []);
  if (!admins.length) return;
  console.log('\nOpen an explorer above and paste one of these headers under Headers (valid 24 hours):');
  for (const admin of admins) {
    const token = await issueToken({
      secret,
      tenantId: admin.tenantId,
      userId: admin.userId,
      ttl: '24h',
      tenantClaim: env.JWT_TENANT_CLAIM,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    });
    console.log(`\n  ${admin.tenantName} (tenant ${admin.tenantId}, ${admin.email}):\n  {"Authorization": "Bearer ${token}"}`);
  }
  console.log('');
}
