import type { Server } from 'node:http';
import type pg from 'pg';
import type { ApolloServer } from '@apollo/server';
import type { AuditLog } from '../audit/audit-log.js';
import type { CheckedOutClients } from '../db/checked-out-clients.js';
import type { DatabaseProbe } from '../db/database-probe.js';
import type { AppDatabase } from '../db/kysely.js';
import type { HttpHandler } from './http-handler.js';
import type { Logger } from './logger.js';
import type { RealtimeServer } from './realtime-server.js';

export interface ShutdownParts {
  server: Server;
  handler: HttpHandler;
  /** GraphQL WebSockets: closed with 1001 after their deliveries in flight, before the listener closes. */
  realtime: RealtimeServer;
  apollo: ApolloServer<any>;
  audit: AuditLog;
  /** The audit writer's own pool, ended after its last write. */
  auditPool: pg.Pool;
  database: AppDatabase;
  checkedOut: CheckedOutClients;
  probe: DatabaseProbe;
  logger: Logger;
  /** How long requests in flight may take to finish (SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
}

/** How long each forced step (rollbacks, closed connections, last responses) may take after the deadline. */
const FORCE_STEP_MS = 1000;

/**
 * Graceful shutdown, in order:
 *  1. drain: `/ready` answers 503 at once (a load balancer stops routing here) and new GraphQL requests are
 *     refused with 503; the listener stays open until the end so probes get that answer instead of a refused
 *     connection; idle keep-alive connections close now, busy ones after their response;
 *  2. requests in flight finish, up to `timeoutMs`;
 *  3. past the deadline, their transactions are rolled back; a rollback stuck behind a running statement (a
 *     lock wait) is forced by closing that connection, and PostgreSQL rolls the transaction back. So every
 *     mutation either committed before this point or not at all, and its response says which;
 *  4. WebSockets: batches in flight finish and what they queued is sent (up to the remaining budget), then
 *     every socket closes with 1001 "going away" (clients reconnect elsewhere and resume with their cursor);
 *  5. the listener and every connection close, Apollo stops, buffered audit events are written, the pools end.
 */
export async function shutDown(parts: ShutdownParts): Promise<void> {
  const { server, handler, logger } = parts;
  const startedAt = performance.now();
  handler.startDraining();
  parts.realtime.startDraining();
  server.closeIdleConnections();
  if (!(await handler.whenIdle(parts.timeoutMs))) {
    logger.warn({ inFlight: handler.inFlight, timeoutMs: parts.timeoutMs }, 'shutdown deadline passed: rolling back requests in flight');
    const rollbacks = handler.rollBackInFlight();
    if (!(await settlesWithin(rollbacks, FORCE_STEP_MS))) {
      await parts.checkedOut.closeAll();
      await settlesWithin(rollbacks, FORCE_STEP_MS);
    }
    await handler.whenIdle(FORCE_STEP_MS);
  }
  await parts.realtime.close(Math.max(FORCE_STEP_MS, parts.timeoutMs - (performance.now() - startedAt)));
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await parts.apollo.stop();
  await parts.audit.close();
  await parts.auditPool.end();
  await parts.database.db.destroy();
  await parts.probe.close();
}

function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    timeout,
  ]).finally(() => clearTimeout(timer));
}
