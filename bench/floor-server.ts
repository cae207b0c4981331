/**
 * The floor: the least a hand-written server on this stack must do per request, so that the API can be measured
 * against it. Plain node:http and a pg Pool; no GraphQL, no Apollo, no DataLoader, no Kysely.
 *
 * Per request it verifies the JWT exactly as the API does (the same jose-based verifier), opens the transaction
 * with the API's own one-round-trip prologue (start transaction, transaction-local tenant and user, timeouts,
 * membership check), sends the same data statements the API sends for that operation, commits, and writes the
 * same JSON the API answers (global ids, ISO timestamps), so both do the same work for the same bytes.
 *
 * It also keeps the API's audit trail the way the API does (src/audit/audit-log.ts): a mutation inserts its event
 * inside its transaction; reads are buffered and written once a second, one transaction per tenant. What it does
 * not do is the API's per-request log line.
 *
 *   POST /q1  {}                                Dashboard (= the Dashboard operation of src/sdk)
 *   POST /q2  { "id": <conversation global id> } one conversation with its 50 newest messages and authors
 *   POST /m1  { "conversationId", "body" }       postMessage
 *
 * Started by bench/run.ts with its configuration in BENCH_SERVER_CONFIG; reports counters over IPC.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { createTokenVerifier, type Principal } from '../src/auth/token-verifier.js';
import { createPool } from '../src/db/pool.js';
import { DEFAULT_PREPARED_STATEMENTS_PER_CONNECTION } from '../src/db/prepared-statements.js';
import { decodeGlobalId, encodeGlobalId } from '../src/graphql/global-id.js';
import { isValidTenantId } from '../src/ids/entity-ids.js';
import { literal, runPerTenantBatch } from '../src/tenancy/per-tenant-batch.js';
import { buildTransactionPrologue } from '../src/tenancy/transaction-prologue.js';
import { installStatementCounter, reportStartupFailure, serveParent, serverConfigFromEnv } from './lib/server-process.js';

// The statements the API issues for these operations, character for character (Kysely's compiled SQL), so that
// PostgreSQL plans and runs the same thing for both. bench/run.ts compares the texts both servers sent.
export const FLOOR_SQL = {
  listConversations: 'select * from "conversations" where "archived" = $1 order by "created_at" desc, "id" desc limit $2',
  findConversationsByIds: 'select * from "conversations" where "id" = any($1::uuid[])',
  listMessagesWithAuthorsByConversations:
    'select "m".* from unnest($1::uuid[]) as c(id) cross join lateral (select "messages".*, "users"."id" as "author__id", ' +
    '"users"."tenant_id" as "author__tenant_id", "users"."email" as "author__email", "users"."display_name" as "author__display_name", ' +
    '"users"."role" as "author__role", "users"."created_at" as "author__created_at" from "messages" inner join "users" on "users"."id" = "messages"."author_id" ' +
    'where "messages"."conversation_id" = "c"."id" order by "messages"."created_at" desc, "messages"."id" desc limit $2) as "m"',
  findUsersByIds: 'select * from "users" where "id" = any($1::uuid[])',
  insertMessage:
    'insert into "messages" ("conversation_id", "author_id", "body") select "conversations"."id", $1::uuid as "author_id", ' +
    '$2::text as "body" from "conversations" where "conversations"."id" = $3 returning *',
  insertAuditEvents: (rows: number) =>
    'insert into "audit_events" ("created_at", "user_id", "request_id", "source", "operation_type", "operation_name", ' +
    `"outcome", "duration_ms") values ${Array.from({ length: rows }, (_, i) => `(${Array.from({ length: 8 }, (_, j) => `$${i * 8 + j + 1}`).join(', ')})`).join(', ')}`,
} as const;

/** The API's names for the operations, as they appear in its audit events. */
const OPERATIONS = {
  '/q1': { type: 'query', name: 'Dashboard' },
  '/q2': { type: 'query', name: 'ConversationView' },
  '/m1': { type: 'mutation', name: 'Post' },
} as const;

interface AuditEvent {
  tenantId: string;
  userId: string;
  requestId: string;
  operation: (typeof OPERATIONS)[keyof typeof OPERATIONS];
  startedAt: string;
  startedMs: number;
}

interface ConversationRow {
  id: string;
  title: string;
  message_count: number;
}
interface MessageRow {
  id: string;
  conversation_id: string;
  author_id: string;
  body: string;
  created_at: string;
}
interface UserRow {
  id: string;
  display_name: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const config = serverConfigFromEnv();
installStatementCounter();

// Prepared as the API's statements are (the floor sends exactly the API's SQL, so it improves with it).
const pool = createPool({
  connectionString: config.appUrl,
  max: config.poolMax,
  acquireTimeoutMs: 3000,
  applicationName: 'bench-floor',
  ...(config.preparedStatements === 'off' ? {} : { preparedStatementsPerConnection: DEFAULT_PREPARED_STATEMENTS_PER_CONNECTION }),
});
const verifyToken = createTokenVerifier({ secret: config.jwtSecret, tenantClaim: 'tenant_id' });
const timeouts = { statementTimeoutMs: config.statementTimeoutMs, idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs };

const server = createServer((req, res) => void handle(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  serveParent(
    (server.address() as AddressInfo).port,
    async () => {
      server.close();
      server.closeAllConnections();
      await pool.end();
    },
    flushAudit,
  );
});
server.on('error', reportStartupFailure);

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = await readJson(req);
    const principal = await verifyToken(req.headers.authorization).catch((error: Error) => {
      throw new HttpError(401, 'UNAUTHENTICATED', error.message);
    });
    const operation = OPERATIONS[req.url as keyof typeof OPERATIONS];
    if (!operation) throw new HttpError(404, 'NOT_FOUND', `No route ${req.url}`);
    const audit: AuditEvent = { ...principal, requestId: randomUUID(), operation, startedAt: '', startedMs: 0 };
    let data: unknown;
    if (req.url === '/q1') data = await inTransaction(audit, dashboard);
    else if (req.url === '/q2') data = await inTransaction(audit, (client) => conversationView(client, String(body.id)));
    else data = await inTransaction(audit, (client) => postMessage(client, principal, String(body.conversationId), String(body.body)));
    send(res, 200, { data });
  } catch (error) {
    const known = error instanceof HttpError ? error : new HttpError(500, 'INTERNAL_SERVER_ERROR', String(error));
    send(res, known.status, { errors: [{ message: known.message, extensions: { code: known.code } }], data: null });
  }
}

/**
 * begin (one round trip with the tenant), work, [a mutation's audit event,] commit; rollback on any error; the
 * client always goes back to the pool. A read's audit event is buffered after its commit.
 */
async function inTransaction<T>(audit: AuditEvent, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const mutation = audit.operation.type === 'mutation';
  const client = await pool.connect();
  try {
    audit.startedAt = new Date().toISOString();
    audit.startedMs = performance.now();
    await client.query(buildTransactionPrologue(audit, { readOnly: !mutation, ...timeouts }));
    try {
      const result = await work(client);
      if (mutation) await client.query(FLOOR_SQL.insertAuditEvents(1), auditRow(audit, 'committed'));
      await client.query('commit');
      if (!mutation) enqueueAudit(audit);
      return result;
    } catch (error) {
      await client.query('rollback').catch(() => {});
      throw error;
    }
  } finally {
    client.release();
  }
}

let auditBuffer: { tenantId: string; row: unknown[] }[] = [];
setInterval(() => void flushAudit(), 1000).unref();

function enqueueAudit(event: AuditEvent): void {
  auditBuffer.push({ tenantId: event.tenantId, row: auditRow(event, 'committed') });
  if (auditBuffer.length >= 500) void flushAudit();
}

function auditRow(event: AuditEvent, outcome: string): unknown[] {
  const durationMs = Math.max(0, Math.round(performance.now() - event.startedMs));
  return [event.startedAt, event.userId, event.requestId, 'api', event.operation.type, event.operation.name, outcome, durationMs];
}

/** Writes buffered read events as the API does: one transaction and one round trip per batch; one flush at a time. */
let flushing = Promise.resolve();
function flushAudit(): Promise<void> {
  flushing = flushing.then(writeBufferedAudit);
  return flushing;
}

const AUDIT_ARRAY_TYPES = ['timestamptz', 'uuid', 'text', 'text', 'text', 'text', 'text', 'integer'];

/** The API's batch (src/audit/audit-batch-writer.ts): every tenant's events in one call of app.write_audit_events. */
async function writeBufferedAudit(): Promise<void> {
  if (!auditBuffer.length) return;
  const byTenant = new Map<string, unknown[][]>();
  for (const event of auditBuffer) byTenant.set(event.tenantId, [...(byTenant.get(event.tenantId) ?? []), event.row]);
  auditBuffer = [];
  // Inlined below: tenant ids proper only (decimal digits), as the API's writer checks.
  const grouped = [...byTenant]
    .filter(([tenantId]) => isValidTenantId(tenantId))
    .flatMap(([tenantId, rows]) => rows.map((row) => ({ tenantId, row })));
  if (!grouped.length) return;
  const arrays = [
    `array[${grouped.map((event) => event.tenantId).join(',')}]::bigint[]`,
    ...AUDIT_ARRAY_TYPES.map(
      (type, column) => `array[${grouped.map((event) => literal(event.row[column] as string | number | null)).join(',')}]::${type}[]`,
    ),
    `array[${grouped.map(() => 'null').join(',')}]::integer[]`,
  ];
  await runPerTenantBatch(pool, [{ tenantId: grouped[0]!.tenantId, statements: [`select app.write_audit_events(${arrays.join(',')})`] }]).catch(
    () => {},
  );
}

async function dashboard(client: pg.PoolClient) {
  const conversations = (await client.query<ConversationRow>(FLOOR_SQL.listConversations, [false, 21])).rows.slice(0, 20);
  // lastMessage (1) and messages(first: 5) (5 + 1 to learn hasNextPage) share one statement, with the authors, as in the API.
  const { messages, users } = await messagesWithAuthorsOf(
    client,
    conversations.map((c) => c.id),
    6,
  );
  return {
    conversations: {
      nodes: conversations.map((c) => {
        const own = messages.get(c.id) ?? [];
        const last = own[0];
        return {
          id: encodeGlobalId('Conversation', c.id),
          title: c.title,
          messageCount: c.message_count,
          lastMessage: last ? { id: encodeGlobalId('Message', last.id), body: last.body, author: userJson(users, last.author_id) } : null,
          messages: {
            nodes: own.slice(0, 5).map((m) => ({
              id: encodeGlobalId('Message', m.id),
              body: m.body,
              author: userJson(users, m.author_id),
            })),
          },
        };
      }),
    },
  };
}

async function conversationView(client: pg.PoolClient, globalId: string) {
  const { localId } = decodeGlobalId(globalId, 'Conversation');
  const conversation = (await client.query<ConversationRow>(FLOOR_SQL.findConversationsByIds, [[localId]])).rows[0];
  if (!conversation) return { conversation: null };
  const { messages, users } = await messagesWithAuthorsOf(client, [conversation.id], 51);
  const own = (messages.get(conversation.id) ?? []).slice(0, 50);
  return {
    conversation: {
      id: encodeGlobalId('Conversation', conversation.id),
      title: conversation.title,
      messageCount: conversation.message_count,
      messages: {
        nodes: own.map((m) => ({
          id: encodeGlobalId('Message', m.id),
          body: m.body,
          createdAt: new Date(m.created_at).toISOString(),
          author: userJson(users, m.author_id),
        })),
      },
    },
  };
}

async function postMessage(client: pg.PoolClient, principal: Principal, conversationGlobalId: string, body: string) {
  const { localId } = decodeGlobalId(conversationGlobalId, 'Conversation');
  const message = (await client.query<MessageRow>(FLOOR_SQL.insertMessage, [principal.userId, body, localId])).rows[0];
  if (!message) throw new HttpError(200, 'NOT_FOUND', 'conversation not found');
  // The API resolves author and conversation through two loaders, in parallel on the one connection.
  const [users, conversation] = await Promise.all([
    usersById(client, [message.author_id]),
    client.query<ConversationRow>(FLOOR_SQL.findConversationsByIds, [[message.conversation_id]]),
  ]);
  const row = conversation.rows[0]!;
  return {
    postMessage: {
      message: {
        id: encodeGlobalId('Message', message.id),
        body: message.body,
        createdAt: new Date(message.created_at).toISOString(),
        author: userJson(users, message.author_id),
        conversation: { id: encodeGlobalId('Conversation', row.id), messageCount: row.message_count },
      },
    },
  };
}

/** The newest `limit` messages of each conversation with their authors, in one statement (the API's lookahead join). */
async function messagesWithAuthorsOf(
  client: pg.PoolClient,
  conversationIds: string[],
  limit: number,
): Promise<{ messages: Map<string, MessageRow[]>; users: Map<string, UserRow> }> {
  const messages = new Map<string, MessageRow[]>();
  const users = new Map<string, UserRow>();
  if (!conversationIds.length) return { messages, users };
  const { rows } = await client.query<MessageRow & { author__id: string; author__display_name: string }>(
    FLOOR_SQL.listMessagesWithAuthorsByConversations,
    [conversationIds, limit],
  );
  for (const row of rows) {
    const list = messages.get(row.conversation_id);
    if (list) list.push(row);
    else messages.set(row.conversation_id, [row]);
    users.set(row.author__id, { id: row.author__id, display_name: row.author__display_name });
  }
  return { messages, users };
}

async function usersById(client: pg.PoolClient, ids: string[]): Promise<Map<string, UserRow>> {
  const unique = [...new Set(ids)];
  if (!unique.length) return new Map();
  const { rows } = await client.query<UserRow>(FLOOR_SQL.findUsersByIds, [unique]);
  return new Map(rows.map((row) => [row.id, row]));
}

function userJson(users: Map<string, UserRow>, id: string) {
  const user = users.get(id);
  if (!user) throw new Error(`Missing author ${id} despite a foreign key`);
  return { id: encodeGlobalId('User', user.id), displayName: user.display_name };
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve(text ? (JSON.parse(text) as Record<string, unknown>) : {});
      } catch {
        reject(new HttpError(400, 'BAD_REQUEST', 'Request body is not valid JSON.'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
