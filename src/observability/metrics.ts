import type pg from 'pg';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AUTH_FAILURE_REASONS, type AuthFailureReason } from '../errors/app-error.js';
import type { StatementObserver } from '../db/kysely.js';
import { ABUSE_LIMIT_NAMES, type AbuseLimitName } from '../limits/abuse-limit-names.js';
import type { TransactionOutcome } from '../tenancy/request-transaction.js';
import type { OperationLabeler } from './operation-names.js';

/** Who executed a GraphQL operation (server/compiled-executor.ts). */
export type ExecutorName = 'compiled' | 'graphql-js';

export interface MetricsOptions {
  /** Its total / idle / waiting counts are read at scrape time. */
  pool: pg.Pool;
  /** Bounds the `operation_name` label (see operation-names.ts). */
  operationLabel: OperationLabeler;
  /** Node's process metrics (CPU, memory, event loop lag, GC); off in tests that start many servers. */
  processMetrics?: boolean;
}

/** Route label of the HTTP histogram: the server's own paths, everything else is one value. */
export type HttpRoute = '/graphql' | '/graphiql' | '/health' | '/ready' | '/metrics' | 'other';

/** Transaction outcomes worth counting ('none' means no transaction existed). */
export type CountedOutcome = Exclude<TransactionOutcome, 'none'>;

/**
 * The server's Prometheus metrics, in a registry of their own (never prom-client's global one), so several
 * servers in one process (the tests start many) keep separate counts.
 *
 * Every label has a closed set of values: statement kinds, outcomes, reasons and limits are fixed lists, and
 * GraphQL operation names are only those the SDK ships or the operator allows (anything else is "other"), so a
 * client cannot grow the number of series. Label values known in advance are created at zero, so a rate() over
 * them works from the first scrape.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'tenantgraph_http_request_duration_seconds',
    help: 'HTTP requests, from the first byte read to the response ending, by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly graphqlOperationDuration = new Histogram({
    name: 'tenantgraph_graphql_operation_duration_seconds',
    help: 'GraphQL requests including their transaction end, by operation type and name (unknown names are "other").',
    labelNames: ['operation_type', 'operation_name'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly statementDuration = new Histogram({
    name: 'tenantgraph_db_statement_duration_seconds',
    help: 'SQL statements on the app pool (tenant prologue, COMMIT and ROLLBACK included), by kind and outcome.',
    labelNames: ['statement', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly transactions = new Counter({
    name: 'tenantgraph_transactions_total',
    help: 'Request transactions by how they ended: committed, rolled_back, or rejected (the prologue refused the context).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly tenantContextSwitches = new Counter({
    name: 'tenantgraph_tenant_context_switches_total',
    help: 'Request transactions begun with a tenant set (each one is a tenant context switch).',
    registers: [this.registry],
  });

  readonly connectionsLost = new Counter({
    name: 'tenantgraph_db_connections_lost_total',
    help: 'App pool connections that died (terminated by PostgreSQL or an operator, server restart, network); each was discarded.',
    registers: [this.registry],
  });

  readonly rlsViolations = new Counter({
    name: 'tenantgraph_rls_violations_total',
    help: 'Statements in tenant transactions refused by a row level security policy (SQLSTATE 42501, not a missing privilege).',
    registers: [this.registry],
  });

  readonly missingPrivileges = new Counter({
    name: 'tenantgraph_db_missing_privileges_total',
    help: 'Statements in tenant transactions refused because the app role lacks a privilege (SQLSTATE 42501 "permission denied"; a GRANT missing from the migrations).',
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'tenantgraph_auth_failures_total',
    help: 'Requests refused as UNAUTHENTICATED, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly abuseLimitRejections = new Counter({
    name: 'tenantgraph_abuse_limit_rejections_total',
    help: 'GraphQL documents refused by a query shape limit (depth, aliases, directives, tokens, cost).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly graphqlExecutions = new Counter({
    name: 'tenantgraph_graphql_executions_total',
    help: 'GraphQL operations executed, by executor: "compiled" (graphql-jit) or "graphql-js" (over the size compiled, or while the compile budget was spent).',
    labelNames: ['executor'] as const,
    registers: [this.registry],
  });

  readonly graphqlCompilations = new Counter({
    name: 'tenantgraph_graphql_compilations_total',
    help: 'GraphQL operations compiled by graphql-jit (each a miss of the compiled-operation cache).',
    registers: [this.registry],
  });

  readonly operationLabel: OperationLabeler;

  constructor(options: MetricsOptions) {
    this.operationLabel = options.operationLabel;
    const { pool } = options;
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('tenantgraph_db_pool_connections_total', 'Connections the app pool holds (idle and checked out).', () => pool.totalCount);
    gauge('tenantgraph_db_pool_connections_idle', 'Connections idle in the app pool.', () => pool.idleCount);
    gauge('tenantgraph_db_pool_requests_waiting', 'Callers waiting for a free connection of the app pool.', () => pool.waitingCount);

    for (const outcome of ['committed', 'rolled_back', 'rejected'] satisfies CountedOutcome[]) this.transactions.inc({ outcome }, 0);
    for (const reason of AUTH_FAILURE_REASONS) this.authFailures.inc({ reason }, 0);
    for (const limit of ABUSE_LIMIT_NAMES) this.abuseLimitRejections.inc({ limit }, 0);
    for (const executor of ['compiled', 'graphql-js'] satisfies ExecutorName[]) this.graphqlExecutions.inc({ executor }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'tenantgraph_' });
  }

  /** For `createAppDatabase`: sees every statement on the pool. Cheap: a few string compares and one observe. */
  readonly observeStatement: StatementObserver = (event) => {
    this.statementDuration.observe({ statement: statementKind(event.sql), outcome: event.failed ? 'error' : 'ok' }, event.durationMs / 1000);
  };

  transactionEnded(outcome: TransactionOutcome): void {
    if (outcome !== 'none') this.transactions.inc({ outcome });
  }

  authenticationFailed(reason: AuthFailureReason): void {
    this.authFailures.inc({ reason });
  }

  abuseLimitRejected(limit: AbuseLimitName): void {
    this.abuseLimitRejections.inc({ limit });
  }

  operationCompiled(): void {
    this.graphqlCompilations.inc();
  }

  operationExecuted(executor: ExecutorName): void {
    this.graphqlExecutions.inc({ executor });
  }

  /** The text a scraper reads. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const STATEMENT_KINDS = ['select', 'insert', 'update', 'delete', 'with', 'commit', 'rollback', 'begin'] as const;

/**
 * The statement's first keyword, from a fixed list ("other" otherwise). The tenant prologue starts with
 * `start transaction` (see tenancy/transaction-prologue.ts) and is labelled "begin".
 */
export function statementKind(sql: string): (typeof STATEMENT_KINDS)[number] | 'other' {
  const head = sql.trimStart().slice(0, 17).toLowerCase();
  if (head.startsWith('start transaction')) return 'begin';
  for (const kind of STATEMENT_KINDS) if (head.startsWith(kind)) return kind;
  return 'other';
}
