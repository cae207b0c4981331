import { createServer, type Server } from 'node:http';
import type { Kysely } from 'kysely';
import type { AddressInfo } from 'node:net';
import { createTokenVerifier, type TokenVerifierOptions } from '../auth/token-verifier.js';
import { createAppDatabase, type AppDatabase, type Database, type StatementObserver, type TransactionPlugins } from '../db/kysely.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditSink } from '../tenancy/audit-sink.js';
import { auditObserver } from '../observability/audit-metrics.js';
import { DEFAULT_HTTP_LIMITS, DEFAULT_QUERY_LIMITS, DEFAULT_REALTIME_SETTINGS, type HttpLimits } from '../config/env.js';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { loadTypeDefs } from '../graphql/schema-files.js';
import { allResolvers } from '../modules/index.js';
import { RealtimeMetrics } from '../observability/realtime-metrics.js';
import { RealtimeHub, type FeedFactory, type RealtimeSettings } from '../realtime/realtime-hub.js';
import { createRealtimeServer, type RealtimeServer } from './realtime-server.js';
import { trackCheckedOutClients } from '../db/checked-out-clients.js';
import { createDatabaseProbe } from '../db/database-probe.js';
import { createPool } from '../db/pool.js';
import { DEFAULT_PREPARED_STATEMENTS_PER_CONNECTION, usePreparedStatements, type PreparedStatementsSetting } from '../db/prepared-statements.js';
import { assertIsolationIsEnforced } from '../db/safety-check.js';
import type { TenantContextMode } from '../db/tenant-catalog.js';
import { assertAccessPathsPlan } from './access-path-check.js';
import { ACCESS_PATHS } from '../modules/index.js';
import { registerFairShareMetrics } from '../observability/fair-share-metrics.js';
import { Metrics } from '../observability/metrics.js';
import { loadSdkOperationNames, operationLabeler } from '../observability/operation-names.js';
import { requestTransactionObserver } from '../observability/transaction-observer.js';
import { createApollo } from './apollo.js';
import type { TrustedDocuments } from './trusted/trusted-documents.js';
import { createTrustedRequestGate } from './trusted/trusted-request-gate.js';
import { createCorsPolicy } from './cors-policy.js';
import { createExplorerRoutes, EXPLORER_PATH } from './explorer/explorer-routes.js';
import { createHttpHandler } from './http-handler.js';
import { InFlightLimiter } from './in-flight-limiter.js';
import type { AbuseLimits } from './plugins/abuse-limits.js';
import type { Logger } from './logger.js';
import { createReadinessCheck, type MigrationCheck } from './readiness.js';
import { createRequestContext } from './create-request-context.js';
import { shutDown } from './shutdown.js';
import { setUpTenantAdmission, type FairShareOptions, type TenantAdmissionSetup } from './tenant-admission-setup.js';

export interface ServerOptions {
  appUrl: string;
  port: number;
  host: string;
  production: boolean;
  introspection: boolean;
  /** Only the manifest's operations run (GRAPHQL_TRUSTED_DOCUMENTS; trusted/trusted-documents.ts). Default: any. */
  trustedDocuments?: TrustedDocuments;
  limits?: Partial<AbuseLimits>;
  jwt: TokenVerifierOptions;
  /**
   * `preparedStatements` (DATABASE_PREPARED_STATEMENTS): named statements per connection, `auto` (the default)
   * deciding from the URL — on for a direct connection, off for a pooler (src/db/prepared-statements.ts).
   */
  pool: { max: number; acquireTimeoutMs: number; preparedStatements?: PreparedStatementsSetting };
  /**
   * TENANT_CONTEXT_MODE: how every tenant transaction (requests, realtime, audit batches) applies the tenant, and
   * the one policy form the start-up check accepts. Default `standard`; `citus`: docs/citus.md.
   */
  tenantContext?: TenantContextMode;
  /** Per-tenant fair share of the pool, plan limits, rate limits (see tenant-admission-setup.ts). */
  fairShare?: FairShareOptions;
  transaction: { statementTimeoutMs: number; idleInTransactionTimeoutMs: number };
  bodyLimitBytes: number;
  /** Response size, slow readers, requests in flight per tenant / tokenless address. Defaults: DEFAULT_HTTP_LIMITS. */
  http?: Partial<HttpLimits>;
  /** Browser origins allowed by CORS besides development's own (cors-policy.ts); `['*']`: any origin. */
  corsOrigins: string[];
  /** Request headers CORS allows besides DEFAULT_CORS_ALLOWED_HEADERS. */
  corsAllowedHeaders?: string[];
  /** Apollo Sandbox at /graphql and the offline explorer at /graphiql. Default: on unless `production`. */
  explorer?: boolean;
  logger: Logger;
  /** Sees every SQL statement (tests count them); the metrics see them too. */
  observeStatement?: StatementObserver;
  /** Statements of request transactions slower than this are logged with tenant and request id (0: off). Default 500. */
  slowStatementMs?: number;
  /** How long requests in flight may finish on `close()` before their transactions are rolled back. Default 10000. */
  shutdownTimeoutMs?: number;
  metrics?: {
    /** Operation names allowed as metric labels besides the SDK's own (src/sdk/operations). */
    operationNames?: string[];
    /** Node process metrics (CPU, memory, event loop, GC). Default false. */
    processMetrics?: boolean;
  };
  /** Lets GET /ready verify, as the owner, that every shipped migration is applied (see readiness.ts). */
  migrations?: MigrationCheck;
  /**
   * Audit trail batching for events written off the request path (see audit/audit-log.ts). Defaults: every
   * 1000 ms, batches of 500, at most 10000 unwritten events (the crash loss bound).
   */
  audit?: Partial<{ flushIntervalMs: number; batchSize: number; maxPending: number }>;
  /**
   * Kysely plugins added to every tenant transaction, made from its tenant id (db/kysely.ts TransactionPlugins).
   * They cannot switch RLS off: startServer refuses a role that bypasses it. Not reachable from the environment.
   */
  transactionPlugins?: TransactionPlugins;
  /**
   * GraphQL subscriptions over WebSocket at the same path (realtime-server.ts); defaults DEFAULT_REALTIME_SETTINGS.
   * `listenUrl`: a direct connection for LISTEN/NOTIFY between replicas (not through PgBouncer); `redisUrl`: Redis
   * pub/sub for the same, beside or instead of it; neither: wake-ups stay in this process and other replicas'
   * events arrive by polling.
   */
  realtime?: Partial<RealtimeSettings>;
  /** Replaces the realtime fan-out of each tenant (realtime-hub.ts FeedFactory); not reachable from the environment. */
  realtimeFeed?: FeedFactory;
  /**
   * Wraps the audit sink that request and subscription transactions report their context switches to, given the
   * product's AuditLog (the benchmark's "API without read audit events", bench/lib/mutations-only-audit-sink.ts,
   * measures what the read events cost). Not reachable from the environment: a deployment records every switch.
   */
  auditSink?: (auditLog: AuditSink) => AuditSink;
}

export interface RunningServer {
  url: string;
  /** The offline explorer's URL, or null when the explorer is off. */
  explorerUrl: string | null;
  port: number;
  database: AppDatabase;
  audit: AuditLog;
  metrics: Metrics;
  /** The realtime fan-out (tests reach its LISTEN connection and pruning through it). */
  realtime: RealtimeHub;
  /** The tenants' cached plan limits and the plan change listener (tests look at entries and cut its connection). */
  plans: Pick<TenantAdmissionSetup, 'planCache' | 'planListener'>;
  /** Open GraphQL WebSockets (a getter: copying the object freezes the number). */
  readonly sockets: number;
  /** Graceful: drains, waits up to `shutdownTimeoutMs`, rolls back the rest, closes the pool (see shutdown.ts). */
  close(): Promise<void>;
}

const GRAPHQL_PATH = '/graphql';

/**
 * Starts the API: one pool as the app role, one Apollo server, one HTTP server.
 * SECURITY: always checks first that the app role is subject to RLS (db/safety-check.ts) and refuses to start
 * otherwise; nothing in `options` turns that check off.
 */
export function startServer(options: ServerOptions): Promise<RunningServer> {
  return startServerCheckedBy(options, (db) => assertIsolationIsEnforced(db, options.tenantContext ?? 'standard'));
}

/** What a server checks about its database connection before it serves anything; throws to refuse. */
export type DatabaseCheck = (db: Kysely<Database>) => Promise<void>;

/**
 * startServer with another database check, for tools that compose their own server from the product's parts
 * (the benchmark's "API without RLS", bench/lib/no-rls-server.ts). A deployment uses startServer: a check other
 * than assertIsolationIsEnforced is, by definition, not the product's isolation guarantee.
 */
export async function startServerCheckedBy(options: ServerOptions, checkDatabase: DatabaseCheck): Promise<RunningServer> {
  let metrics: Metrics | undefined;
  const { preparedStatements = 'auto', ...poolOptions } = options.pool;
  const pool = createPool({
    connectionString: options.appUrl,
    ...poolOptions,
    // The request statements are a few dozen fixed shapes: prepared once per connection, PostgreSQL stops parsing
    // and planning them per request. Off behind a pooler that cannot keep them (prepared-statements.ts).
    ...(usePreparedStatements(preparedStatements, options.appUrl)
      ? { preparedStatementsPerConnection: DEFAULT_PREPARED_STATEMENTS_PER_CONNECTION }
      : {}),
    // SECURITY (availability): a connection that dies, even in the middle of a request, is reported and discarded;
    // the request on it fails with SERVICE_UNAVAILABLE, and the process lives on.
    onConnectionError: (error) => {
      metrics?.connectionsLost.inc();
      options.logger.warn({ err: { message: error.message, code: (error as { code?: string }).code } }, 'database connection lost');
    },
  });
  const checkedOut = trackCheckedOutClients(pool);
  metrics = new Metrics({
    pool,
    operationLabel: operationLabeler([...(await loadSdkOperationNames()), ...(options.metrics?.operationNames ?? [])]),
    processMetrics: options.metrics?.processMetrics ?? false,
  });
  const observeStatement: StatementObserver = options.observeStatement
    ? (event) => {
        metrics.observeStatement(event);
        options.observeStatement!(event);
      }
    : metrics.observeStatement;
  const database = createAppDatabase(pool, observeStatement, {
    ...(options.transactionPlugins ? { transactionPlugins: options.transactionPlugins } : {}),
    ...(options.tenantContext ? { tenantContext: options.tenantContext } : {}),
  });
  const probe = createDatabaseProbe(options.appUrl);
  let readiness: () => Promise<string | null>;
  try {
    await checkDatabase(database.db);
    await assertAccessPathsPlan(database.db, ACCESS_PATHS);
    readiness = await createReadinessCheck(probe, options.migrations);
  } catch (error) {
    await database.db.destroy();
    await probe.close();
    throw error;
  }
  // The audit writer's own pool of one connection: tenant traffic can hold every connection of the app pool
  // (issue 8), and then buffered events waited for one and were dropped. One connection is enough because
  // batches are written one after another; it costs one more server connection than DB_POOL_MAX.
  const auditPool = createPool({ connectionString: options.appUrl, max: 1, acquireTimeoutMs: 10_000, applicationName: 'tenantgraph-audit' });
  const audit: AuditLog = new AuditLog(auditPool, {
    flushIntervalMs: options.audit?.flushIntervalMs ?? 1000,
    batchSize: options.audit?.batchSize ?? 500,
    maxPending: options.audit?.maxPending ?? 10_000,
    observer: auditObserver(metrics.registry, options.logger, () => audit.pending),
    ...(options.tenantContext ? { tenantContext: options.tenantContext } : {}),
  });
  const tenantAdmission = await setUpTenantAdmission(pool, options.pool.max, options.pool.acquireTimeoutMs, options.fairShare, database, {
    registry: metrics.registry,
    logger: options.logger,
  }).catch(async (error: unknown) => {
    await database.db.destroy();
    await probe.close();
    throw error;
  });
  registerFairShareMetrics(metrics.registry, tenantAdmission.scheduler);
  const realtimeSettings: RealtimeSettings = { ...DEFAULT_REALTIME_SETTINGS, listenUrl: null, redisUrl: null, ...options.realtime };
  // The executable schema subscriptions run on: the same SDL and resolvers Apollo serves, built once.
  const schema = makeExecutableSchema({ typeDefs: loadTypeDefs(), resolvers: allResolvers() });
  const realtimeMetrics = new RealtimeMetrics(metrics.registry);
  const hub = new RealtimeHub({
    database,
    schema,
    settings: realtimeSettings,
    transaction: options.transaction,
    metrics: realtimeMetrics,
    admission: tenantAdmission.admission,
    logger: options.logger,
    onNotMember: (subscriber) => subscriber.end('not_member'),
    onTenantSuspended: (subscriber) => subscriber.end('suspended'),
    createFeed: options.realtimeFeed,
  });
  try {
    await hub.start();
  } catch (error) {
    await hub.close();
    await database.db.destroy();
    await probe.close();
    await auditPool.end();
    await tenantAdmission.close();
    throw error;
  }
  const auditSink: AuditSink = options.auditSink ? options.auditSink(audit) : audit;
  const transactionSettings = {
    ...options.transaction,
    audit: auditSink,
    admission: tenantAdmission.admission,
    onCommitted: (tenantId: string) => hub.committed(tenantId),
    observeStatement: requestTransactionObserver({ metrics, logger: options.logger, slowStatementMs: options.slowStatementMs ?? 500 }),
  };
  const verifyToken = createTokenVerifier(options.jwt);
  const httpLimits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.http };
  const explorer = options.explorer ?? !options.production;
  const explorerRoutes = explorer ? await createExplorerRoutes({ graphqlPath: GRAPHQL_PATH }) : undefined;
  if (explorerRoutes && !explorerRoutes.built) {
    options.logger.warn('the offline explorer is not built (dist/explorer is missing): run `npm run build:explorer`');
  }
  const cors = createCorsPolicy({ production: options.production, origins: options.corsOrigins, extraAllowedHeaders: options.corsAllowedHeaders });
  options.logger.info({ cors: cors.description }, 'CORS policy');
  const apollo = createApollo({
    explorerPath: explorer ? EXPLORER_PATH : null,
    production: options.production,
    introspection: options.introspection,
    limits: { ...DEFAULT_QUERY_LIMITS, ...options.limits },
    logger: options.logger,
    metrics,
    maxResponseBytes: httpLimits.maxResponseBytes,
    ...(options.trustedDocuments ? { trustedDocuments: options.trustedDocuments } : {}),
  });
  await apollo.start();

  const queryLimits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
  const handler = createHttpHandler({
    apollo,
    ...(options.trustedDocuments
      ? {
          trustedRequestGate: createTrustedRequestGate(options.trustedDocuments, {
            introspection: options.introspection,
            maxTokens: queryLimits.maxTokens,
          }),
        }
      : {}),
    bodyLimitBytes: options.bodyLimitBytes,
    maxResponseBytes: httpLimits.maxResponseBytes,
    writeTimeoutMs: httpLimits.writeTimeoutMs,
    inFlightLimiter: new InFlightLimiter({ perTenant: httpLimits.maxInFlightPerTenant, perAddress: httpLimits.maxInFlightPerAddress }),
    cors: cors.options,
    explorer: explorerRoutes,
    createContext: async (req, requestId, telemetry) => {
      const authorization = req.headers.authorization;
      const principal = authorization ? await verifyToken(authorization) : null;
      return createRequestContext(database, transactionSettings, requestId, principal, telemetry);
    },
    health: () => probe.answers(),
    readiness,
    metrics,
    logger: options.logger,
  });

  // Node's default 16 KiB header limit would answer an oversized token with a bare 431; a larger limit lets the
  // token verifier refuse it as UNAUTHENTICATED with a message. Bodies have their own limit.
  const server: Server = createServer({ maxHeaderSize: 128 * 1024 }, handler.listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const realtime: RealtimeServer = createRealtimeServer({
    server,
    path: GRAPHQL_PATH,
    schema,
    hub,
    verifyToken,
    database,
    transactionSettings,
    limits: queryLimits,
    production: options.production,
    settings: realtimeSettings,
    metrics: realtimeMetrics,
    audit: auditSink,
    logger: options.logger,
    maxPayloadBytes: options.bodyLimitBytes,
    trustedDocuments: options.trustedDocuments,
  });
  const { port } = server.address() as AddressInfo;
  const displayHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${displayHost}:${port}${GRAPHQL_PATH}`,
    explorerUrl: explorer ? `http://${displayHost}:${port}${EXPLORER_PATH}` : null,
    port,
    database,
    audit,
    metrics,
    realtime: hub,
    plans: { planCache: tenantAdmission.planCache, planListener: tenantAdmission.planListener },
    get sockets() {
      return realtime.sockets;
    },
    close() {
      closing ??= shutDown({
        server,
        handler,
        realtime,
        apollo,
        audit,
        auditPool,
        database,
        checkedOut,
        probe,
        logger: options.logger,
        timeoutMs: options.shutdownTimeoutMs ?? 10_000,
      }).finally(() => tenantAdmission.close());
      return closing;
    },
  };
}
