import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, RenameConversationDocument } from '../../src/__generated__/sdk/graphql.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { Metrics } from '../../src/observability/metrics.js';
import { operationLabeler } from '../../src/observability/operation-names.js';
import { requestTransactionObserver } from '../../src/observability/transaction-observer.js';
import { RequestTransaction } from '../../src/tenancy/request-transaction.js';
import { forgeToken, HS256_HEADER, payloadJson } from '../support/forged-tokens.js';
import { scrapeMetrics, type Scrape } from '../support/prometheus.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({
    limits: { maxDepth: 8, maxAliases: 5, maxTokens: 400, maxDirectives: 4, maxCost: 3000 },
    metrics: { operationNames: ['AllowedByOperator'] },
  });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const scrape = () => scrapeMetrics(server.port);
const auth = (token = tenant.admin.token) => ({ authorization: `Bearer ${token}` });

/** How much each named sample moved while `work` ran. */
async function deltas(work: () => Promise<unknown>, read: (scrape: Scrape) => Record<string, number | undefined>) {
  const before = read(await scrape());
  await work();
  const after = read(await scrape());
  return Object.fromEntries(Object.keys(after).map((key) => [key, (after[key] ?? 0) - (before[key] ?? 0)]));
}

const operationCount = (s: Scrape, operation_type: string, operation_name: string) =>
  s.value('tenantgraph_graphql_operation_duration_seconds_count', { operation_type, operation_name });

describe('GET /metrics', () => {
  it('serves every metric family in the Prometheus text format', async () => {
    const result = await scrape();
    expect(result.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(Object.fromEntries(result.types)).toMatchObject({
      tenantgraph_http_request_duration_seconds: 'histogram',
      tenantgraph_graphql_operation_duration_seconds: 'histogram',
      tenantgraph_db_statement_duration_seconds: 'histogram',
      tenantgraph_db_pool_connections_total: 'gauge',
      tenantgraph_db_pool_connections_idle: 'gauge',
      tenantgraph_db_pool_requests_waiting: 'gauge',
      tenantgraph_transactions_total: 'counter',
      tenantgraph_tenant_context_switches_total: 'counter',
      tenantgraph_rls_violations_total: 'counter',
      tenantgraph_db_missing_privileges_total: 'counter',
      tenantgraph_auth_failures_total: 'counter',
      tenantgraph_abuse_limit_rejections_total: 'counter',
      tenantgraph_graphql_executions_total: 'counter',
      tenantgraph_graphql_compilations_total: 'counter',
    });
    // Label values known in advance exist from the start, at zero.
    expect(result.value('tenantgraph_auth_failures_total', { reason: 'not_member' })).toBe(0);
    expect(result.value('tenantgraph_abuse_limit_rejections_total', { limit: 'tokens' })).toBe(0);
    expect(result.value('tenantgraph_transactions_total', { outcome: 'rolled_back' })).toBe(0);
  });

  it('reads the pool gauges at scrape time', async () => {
    await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'warm the pool' } });
    const result = await scrape();
    expect(result.value('tenantgraph_db_pool_connections_total')).toBe(server.database.pool.totalCount);
    // At least the connection the mutation used; the audit flush may have opened another, so no exact count.
    expect(result.value('tenantgraph_db_pool_connections_total')).toBeGreaterThanOrEqual(1);
    expect(result.value('tenantgraph_db_pool_connections_idle')).toBe(server.database.pool.idleCount);
    expect(result.value('tenantgraph_db_pool_requests_waiting')).toBe(0);
  });

  it('times HTTP requests by route, method and status', async () => {
    const moved = await deltas(
      async () => {
        await fetch(`http://127.0.0.1:${server.port}/health`);
        await fetch(`http://127.0.0.1:${server.port}/no-such-path-${randomUUID()}`);
      },
      (s) => ({
        health: s.value('tenantgraph_http_request_duration_seconds_count', { route: '/health', method: 'GET', status: '200' }),
        other: s.value('tenantgraph_http_request_duration_seconds_count', { route: 'other', method: 'GET', status: '404' }),
      }),
    );
    expect(moved).toEqual({ health: 1, other: 1 });
    expect((await scrape()).text).not.toContain('no-such-path');
  });

  it('counts a committed mutation: its transaction, its context switch, its operation and its statements', async () => {
    const moved = await deltas(
      async () => {
        const result = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'counted' } });
        expect(result.errors).toBeUndefined();
      },
      (s) => ({
        committed: s.value('tenantgraph_transactions_total', { outcome: 'committed' }),
        switches: s.value('tenantgraph_tenant_context_switches_total'),
        operation: operationCount(s, 'mutation', 'CreateConversation'),
        begins: s.value('tenantgraph_db_statement_duration_seconds_count', { statement: 'begin', outcome: 'ok' }),
        inserts: s.value('tenantgraph_db_statement_duration_seconds_count', { statement: 'insert', outcome: 'ok' }),
        commits: s.value('tenantgraph_db_statement_duration_seconds_count', { statement: 'commit', outcome: 'ok' }),
      }),
    );
    expect(moved.committed).toBe(1);
    expect(moved.switches).toBe(1);
    expect(moved.operation).toBe(1);
    expect(moved.begins).toBe(1);
    expect(moved.inserts).toBeGreaterThanOrEqual(1);
    expect(moved.commits).toBe(1);
  });

  it('compiles an operation on its first request and executes the compiled one again on the next', async () => {
    // An operation no other test sends, so nothing compiled it before.
    const query = `query Compiled${randomUUID().replaceAll('-', '')} { viewer { user { id displayName } } }`;
    const moved = await deltas(
      async () => {
        for (let i = 0; i < 2; i++) expect((await server.post({ query }, auth())).json.errors).toBeUndefined();
      },
      (s) => ({
        compilations: s.value('tenantgraph_graphql_compilations_total'),
        compiled: s.value('tenantgraph_graphql_executions_total', { executor: 'compiled' }),
        interpreted: s.value('tenantgraph_graphql_executions_total', { executor: 'graphql-js' }),
      }),
    );
    expect(moved).toEqual({ compilations: 1, compiled: 2, interpreted: 0 });
  });

  it('counts a mutation that fails after it began as rolled back', async () => {
    const moved = await deltas(
      async () => {
        const missing = encodeGlobalId('Conversation', randomUUID());
        const result = await server.client(tenant.admin.token).request(RenameConversationDocument, { input: { id: missing, title: 'x' } });
        expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      },
      (s) => ({
        committed: s.value('tenantgraph_transactions_total', { outcome: 'committed' }),
        rolledBack: s.value('tenantgraph_transactions_total', { outcome: 'rolled_back' }),
        switches: s.value('tenantgraph_tenant_context_switches_total'),
      }),
    );
    expect(moved).toEqual({ committed: 0, rolledBack: 1, switches: 1 });
  });

  it('labels operations by name only when the name is known: SDK, allow-list, anonymous, or "other"', async () => {
    const unknownName = `Mystery${randomUUID().replaceAll('-', '')}`;
    const moved = await deltas(
      async () => {
        await server.post({ query: `query ${unknownName} { viewer { user { id } } }` }, auth());
        await server.post({ query: 'query AllowedByOperator { viewer { user { id } } }' }, auth());
        await server.post({ query: '{ viewer { user { id } } }' }, auth());
      },
      (s) => ({
        other: operationCount(s, 'query', 'other'),
        allowed: operationCount(s, 'query', 'AllowedByOperator'),
        anonymous: operationCount(s, 'query', 'anonymous'),
      }),
    );
    expect(moved).toEqual({ other: 1, allowed: 1, anonymous: 1 });
    expect((await scrape()).text).not.toContain(unknownName);
  });

  it('counts authentication failures by reason', async () => {
    const query = { query: '{ viewer { user { id } } }' };
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: JSON.stringify(tenant.admin.id), tenant_id: JSON.stringify(tenant.id) };
    const expired = forgeToken(HS256_HEADER, payloadJson({ ...claims, iat: String(now - 7200), exp: String(now - 3600) }));
    const wrongKey = forgeToken(HS256_HEADER, payloadJson(claims), 'another-secret-another-secret-another-secret');
    const noTenant = forgeToken(HS256_HEADER, payloadJson({ sub: claims.sub }));
    const stranger = await tokenFor(tenant.id, randomUUID());
    const reasons = ['missing', 'malformed', 'expired', 'signature', 'claims', 'not_member'] as const;
    const moved = await deltas(
      async () => {
        const statuses = [
          (await server.post(query)).status,
          (await server.post(query, { authorization: 'Basic dXNlcjpwYXNz' })).status,
          (await server.post(query, auth(expired))).status,
          (await server.post(query, auth(wrongKey))).status,
          (await server.post(query, auth(noTenant))).status,
          (await server.post(query, auth(stranger))).status,
        ];
        expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
      },
      (s) => Object.fromEntries(reasons.map((reason) => [reason, s.value('tenantgraph_auth_failures_total', { reason })])),
    );
    expect(moved).toEqual({ missing: 1, malformed: 1, expired: 1, signature: 1, claims: 1, not_member: 1 });
  });

  it('counts abuse-limit rejections by limit', async () => {
    const deep = '{ conversations { nodes { messages { nodes { conversation { messages { nodes { author { id } } } } } } } } }';
    const aliases = Array.from({ length: 6 }, (_, i) => `a${i}: viewer { user { id } }`).join(' ');
    const tokens = Array.from({ length: 500 }, () => '__typename').join(' ');
    const directives = Array.from({ length: 5 }, () => '@include(if: true)').join(' ');
    const cost = '{ conversations(first: 100) { nodes { messages(first: 100) { nodes { id } } } } }';
    const limits = ['depth', 'aliases', 'tokens', 'directives', 'cost'] as const;
    const moved = await deltas(
      async () => {
        for (const query of [deep, `{ ${aliases} }`, `{ ${tokens} }`, `{ __typename ${directives} }`, cost]) {
          const result = await server.post({ query }, auth());
          expect(result.json.data).toBeUndefined();
          expect(result.json.errors[0].message).toMatch(/limit|tokens/);
        }
      },
      (s) => Object.fromEntries(limits.map((limit) => [limit, s.value('tenantgraph_abuse_limit_rejections_total', { limit })])),
    );
    expect(moved).toEqual({ depth: 1, aliases: 1, tokens: 1, directives: 1, cost: 1 });
  });
});

describe('requestTransactionObserver', () => {
  it('counts a statement refused by row level security (SQLSTATE 42501) and the context switch before it', async () => {
    const other = await createTestTenant();
    const metrics = new Metrics({ pool: server.database.pool, operationLabel: operationLabeler([]) });
    const observeStatement = requestTransactionObserver({ metrics, logger: pino({ level: 'silent' }), slowStatementMs: 0 });
    const settings = { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000, observeStatement };
    const transaction = new RequestTransaction(server.database, { tenantId: tenant.id, userId: tenant.admin.id }, settings, 'rls-probe');
    transaction.operationType = 'mutation';
    const tx = await transaction.get();
    // SECURITY: the restrictive policy's WITH CHECK refuses a row of another tenant.
    const insert = sql`insert into conversations (tenant_id, title, created_by) values (${other.id}, 'smuggled', ${tenant.admin.id})`;
    await expect(insert.execute(tx)).rejects.toMatchObject({ code: '42501' });
    await transaction.rollback();

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^tenantgraph_rls_violations_total 1$/m);
    expect(text).toMatch(/^tenantgraph_db_missing_privileges_total 0$/m);
    expect(text).toMatch(/^tenantgraph_tenant_context_switches_total 1$/m);
  });

  it('counts a statement refused for a missing grant (also SQLSTATE 42501) apart from RLS violations', async () => {
    const metrics = new Metrics({ pool: server.database.pool, operationLabel: operationLabeler([]) });
    const observeStatement = requestTransactionObserver({ metrics, logger: pino({ level: 'silent' }), slowStatementMs: 0 });
    const settings = { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000, observeStatement };
    const transaction = new RequestTransaction(server.database, { tenantId: tenant.id, userId: tenant.admin.id }, settings, 'grant-probe');
    transaction.operationType = 'mutation';
    const tx = await transaction.get();
    // The app role may read and append to audit_events, never update it: a privilege it really lacks.
    await expect(sql`update audit_events set outcome = 'committed'`.execute(tx)).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied for table audit_events',
    });
    await transaction.rollback();

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^tenantgraph_db_missing_privileges_total 1$/m);
    expect(text).toMatch(/^tenantgraph_rls_violations_total 0$/m);
  });
});
