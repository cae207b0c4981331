/**
 * The floor: the least a hand-written server on this stack must do per request, so that the API can be measured
 * against it. Plain node:http and a pg Pool; no GraphQL, no Apollo, no DataLoader, no Kysely.
 *
 * Per request it verifies the JWT exactly as the API does (the same jose-based verifier), opens the transaction
 * with the API's own prologue (start transaction, transaction-local tenant and user, timeouts, membership check)
 * in the same round trips as the API: a read's goes out with its data statement (src/db/pipelined-prologue.ts),
 * a post's on its own (the API's insert names its author, which it learns from the prologue's row); it sends the
 * same data statements the API sends for that operation, commits, and writes the same JSON the API answers
 * (global ids, ISO timestamps), so both do the same work for the same bytes.
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
import { DeferredPrologue, queryWithPrologue } from '../src/db/pipelined-prologue.js';
import { literal, runPerTenantBatch } from '../src/tenancy/per-tenant-batch.js';
import { buildTransactionPrologue, buildTransactionPrologueStatements } from '../src/tenancy/transaction-prologue.js';
import { installStatementCounter, reportStartupFailure, serveParent, serverConfigFromEnv } from './lib/server-process.js';

/** A conversations statement (`c`) joined to each conversation's newest messages with their authors (the API's lookahead join). */
function withMessagesSql(conversations: string, limitParameter: string): string {
  return (
    'select "c".*, "m"."id" as "message__id", "m"."tenant_id" as "message__tenant_id", "m"."conversation_id" as "message__conversation_id", ' +
    '"m"."author_id" as "message__author_id", "m"."body" as "message__body", "m"."created_at" as "message__created_at", "m"."author__id", ' +
    '"m"."author__tenant_id", "m"."author__email", "m"."author__display_name", "m"."author__role", "m"."author__external_subject", ' +
    `"m"."author__created_at" from (${conversations}) as "c" left join lateral (select "messages".*, "users"."id" as "author__id", ` +
    '"users"."tenant_id" as "author__tenant_id", "users"."email" as "author__email", "users"."display_name" as "author__display_name", ' +
    '"users"."role" as "author__role", "users"."external_subject" as "author__external_subject", "users"."created_at" as "author__created_at" ' +
    'from "messages" inner join "users" on "users"."id" = "messages"."author_id" ' +
    `where "messages"."conversation_id" = "c"."id" order by "messages"."created_at" desc, "messages"."id" desc limit ${limitParameter}) as "m" on true ` +
    'order by "c"."created_at" desc, "c"."id" desc, "m"."created_at" desc, "m"."id" desc'
  );
}

// The statements the API issues for these operations, character for character (Kysely's compiled SQL), so that
// PostgreSQL plans and runs the same thing for both. bench/run.ts compares the texts both servers sent.
export const FLOOR_SQL = {
  listConversationsWithMessages: withMessagesSql(
    'select * from "conversations" where "archived" = $1 order by "created_at" desc, "id" desc limit $2',
    '$3',
  ),
  findConversationsWithMessagesByIds: withMessagesSql('select * from "conversations" where "id" = any($1::uuid[])', '$2'),
  findConversationsByIds: 'select * from "conversations" where "id" = any($1::uuid[])',
  insertMessage:
    'with "inserted" as (insert into "messages" ("conversation_id", "author_id", "body") select "conversations"."id", $1::uuid as "author_id", ' +
    '$2::text as "body" from "conversations" where "conversations"."id" = $3 returning *) select "inserted".*, "users"."id" as "author__id", ' +
    '"users"."tenant_id" as "author__tenant_id", "users"."email" as "author__email", "users"."display_name" as "author__display_name", ' +
    '"users"."role" as "author__role", "users"."external_subject" as "author__external_subject", "users"."created_at" as "author__created_at" ' +
    'from "inserted" left join "users" on "users"."id" = "inserted"."author_id"',
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

/** What the operations send their statements through: the transaction's client, or for a read its first statement with the prologue. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * begin, work, [a mutation's audit event,] commit; rollback on any error; the client always goes back to the
 * pool. As in the API, a read's prologue goes out with its first statement, a mutation's in a round trip of its
 * own. A read's audit event is buffered after its commit.
 */
async function inTransaction<T>(audit: AuditEvent, work: (client: Queryable) => Promise<T>): Promise<T> {
  const mutation = audit.operation.type === 'mutation';
  const client = await pool.connect();
  try {
    audit.startedAt = new Date().toISOString();
    audit.startedMs = performance.now();
    const mode = { readOnly: !mutation, ...timeouts };
    let queryable: Queryable = client;
    if (mutation) {
      await client.query(buildTransactionPrologue(audit, mode));
    } else {
      let prologue: DeferredPrologue | undefined = new DeferredPrologue(buildTransactionPrologueStatements(audit, mode), audit.tenantId);
      queryable = {
        query<R extends pg.QueryResultRow>(text: string, values: unknown[]) {
          const first = prologue;
          prologue = undefined;
          return (first ? queryWithPrologue(client, first, text, values) : client.query(text, values)) as Promise<pg.QueryResult<R>>;
        },
      };
    }
    try {
      const result = await work(queryable);
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

async function dashboard(client: Queryable) {
  // The page with lastMessage (1) and messages(first: 5) (5 + 1 to learn hasNextPage) of each conversation and their
  // authors, one statement, as in the API.
  const { conversations: page, messages, users } = await conversationsWithMessages(client, FLOOR_SQL.listConversationsWithMessages, [false, 21, 6]);
  const conversations = page.slice(0, 20);
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

async function conversationView(client: Queryable, globalId: string) {
  const { localId } = decodeGlobalId(globalId, 'Conversation');
  // The conversation with its 50 newest messages (+ 1 to learn hasNextPage) and their authors, one statement, as in the API.
  const { conversations, messages, users } = await conversationsWithMessages(client, FLOOR_SQL.findConversationsWithMessagesByIds, [[localId], 51]);
  const conversation = conversations[0];
  if (!conversation) return { conversation: null };
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

async function postMessage(client: Queryable, principal: Principal, conversationGlobalId: string, body: string) {
  const { localId } = decodeGlobalId(conversationGlobalId, 'Conversation');
  // The message with its author (the API's insert statement), then the conversation with its new count.
  const message = (await client.query<MessageRow & { author__display_name: string }>(FLOOR_SQL.insertMessage, [principal.userId, body, localId]))
    .rows[0];
  if (!message) throw new HttpError(200, 'NOT_FOUND', 'conversation not found');
  const users = new Map([[message.author_id, { id: message.author_id, display_name: message.author__display_name }]]);
  const row = (await client.query<ConversationRow>(FLOOR_SQL.findConversationsByIds, [[message.conversation_id]])).rows[0]!;
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

/** Conversations with their newest messages and the messages' authors, from one {@link withMessagesSql} statement. */
async function conversationsWithMessages(
  client: Queryable,
  sql: string,
  parameters: unknown[],
): Promise<{ conversations: ConversationRow[]; messages: Map<string, MessageRow[]>; users: Map<string, UserRow> }> {
  type Row = ConversationRow & {
    message__id: string | null;
    message__body: string;
    message__author_id: string;
    message__created_at: string;
    author__display_name: string;
  };
  const { rows } = await client.query<Row>(sql, parameters);
  const conversations = new Map<string, ConversationRow>();
  const messages = new Map<string, MessageRow[]>();
  const users = new Map<string, UserRow>();
  for (const row of rows) {
    if (!conversations.has(row.id)) {
      conversations.set(row.id, row);
      messages.set(row.id, []);
    }
    if (row.message__id === null) continue;
    messages.get(row.id)!.push({
      id: row.message__id,
      conversation_id: row.id,
      body: row.message__body,
      author_id: row.message__author_id,
      created_at: row.message__created_at,
    });
    users.set(row.message__author_id, { id: row.message__author_id, display_name: row.author__display_name });
  }
  return { conversations: [...conversations.values()], messages, users };
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
