/**
 * The API in a process of its own, for the benchmark: src/server/create-server.ts startServer as `npm start`
 * runs it in production (production: true, no introspection), as the app role, or, composed by the bench
 * (lib/no-rls-server.ts), as a BYPASSRLS role with explicit tenant predicates ("API without RLS"), or with a trusted-documents manifest
 * ("API with trusted documents", GRAPHQL_TRUSTED_DOCUMENTS), or with unprepared statements ("API with unprepared
 * statements", DATABASE_PREPARED_STATEMENTS=off), or recording no read audit events ("API without read audit events",
 * lib/mutations-only-audit-sink.ts), or with subscriptions served one RLS transaction per subscriber per
 * event ("API with a per-subscriber realtime baseline", lib/per-subscriber-feed.ts). Reports counters over IPC.
 */
import pino from 'pino';
import { startServer } from '../src/server/create-server.js';
import { loadTrustedDocuments } from '../src/server/trusted/trusted-documents.js';
import { startNoRlsServer } from './lib/no-rls-server.js';
import { MutationsOnlyAuditSink } from './lib/mutations-only-audit-sink.js';
import { PerSubscriberFeed } from './lib/per-subscriber-feed.js';
import { installStatementCounter, reportStartupFailure, serveParent, serverConfigFromEnv } from './lib/server-process.js';

const config = serverConfigFromEnv();
installStatementCounter();

try {
  const start = config.explicitTenantFilter ? startNoRlsServer : startServer;
  const server = await start({
    appUrl: config.appUrl,
    port: 0,
    host: '127.0.0.1',
    production: true,
    introspection: false,
    jwt: { secret: config.jwtSecret, tenantClaim: 'tenant_id' },
    pool: { max: config.poolMax, acquireTimeoutMs: 3000, preparedStatements: config.preparedStatements ?? 'on' },
    transaction: { statementTimeoutMs: config.statementTimeoutMs, idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs },
    bodyLimitBytes: 1_000_000,
    corsOrigins: [],
    // Production log level: errors are logged as in production, nothing per request.
    logger: pino({ level: 'info' }),
    // Plan change notices on the app URL, a direct connection here, as `npm start` listens on the embedded
    // database's (PLAN_LISTEN_DATABASE_URL): cached plans stay fresh while the listener vouches for them.
    fairShare: { planListenUrl: config.appUrl, ...config.fairShare },
    ...(config.trustedDocumentsFile ? { trustedDocuments: loadTrustedDocuments(config.trustedDocumentsFile) } : {}),
    ...(config.realtime ? { realtime: config.realtime } : {}),
    ...(config.noReadAudit ? { auditSink: (auditLog) => new MutationsOnlyAuditSink(auditLog) } : {}),
    ...(config.perSubscriberRealtime ? { realtimeFeed: (tenantId, settings) => new PerSubscriberFeed(tenantId, settings) } : {}),
  });
  serveParent(
    server.port,
    () => server.close(),
    () => server.audit.flush(),
  );
} catch (error) {
  reportStartupFailure(error);
}
