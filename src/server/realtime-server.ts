import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  getOperationAST,
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { getArgumentValues, getVariableValues } from 'graphql/execution/values.js';
import { getComplexity } from 'graphql-query-complexity';
import { useServer } from 'graphql-ws/use/ws';
import { decodeJwt } from 'jose';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Principal, TokenVerifier } from '../auth/token-verifier.js';
import type { AppDatabase } from '../db/kysely.js';
import { AppError, BadUserInputError, ServiceUnavailableError, UnauthenticatedError } from '../errors/app-error.js';
import { QueryLimitError, tokenLimitOf } from '../errors/query-limit-errors.js';
import { decodeGlobalId } from '../graphql/global-id.js';
import type { RealtimeMetrics, SubscriptionEndReason } from '../observability/realtime-metrics.js';
import { decodeEventCursor } from '../realtime/event-cursor.js';
import type { RealtimeHub, RealtimeSettings } from '../realtime/realtime-hub.js';
import { Subscriber, type SubscriptionField } from '../realtime/subscriber.js';
import type { AuditSink } from '../tenancy/audit-sink.js';
import { mapDatabaseError } from '../errors/database-errors.js';
import { UNIQUE_VIOLATIONS } from '../modules/index.js';
import { RequestTransaction, type RequestTransactionSettings } from '../tenancy/request-transaction.js';
import { clientAddress } from './client-address.js';
import type { Logger } from './logger.js';
import { PendingSocketLimiter } from './pending-socket-limiter.js';
import type { PendingSocketRefusal } from '../observability/realtime-metrics.js';
import { abuseLimits, type AbuseLimits } from './plugins/abuse-limits.js';
import { loggingFormatError } from './plugins/error-plugin.js';
import { QUERY_COST_ESTIMATORS } from './plugins/query-cost.js';
import type { TrustedDocuments } from './trusted/trusted-documents.js';
import { createTrustedRequestGate } from './trusted/trusted-request-gate.js';

/**
 * WebSocket close codes of this server. 4401/4403 are graphql-ws' own (Unauthorized, Forbidden); the graphql-ws
 * client does not retry 4401 by itself, so an expired token means: reconnect with a fresh token.
 */
export const CLOSE_CODES = {
  unauthorized: 4401,
  forbidden: 4403,
  /** The subscriber's queue exceeded REALTIME_QUEUE_MAX_EVENTS or _BYTES: resume with the last cursor received. */
  slowConsumer: 4413,
  /** The tenant already has REALTIME_MAX_SOCKETS_PER_TENANT sockets on this server. */
  tooManySockets: 4430,
  /** The database could not confirm the connection (e.g. unavailable): reconnect later. */
  unavailable: 4503,
  goingAway: 1001,
} as const;

export interface RealtimeServerOptions {
  readonly server: Server;
  readonly path: string;
  readonly schema: GraphQLSchema;
  readonly hub: RealtimeHub;
  readonly verifyToken: TokenVerifier;
  readonly database: AppDatabase;
  /** The HTTP requests' transaction settings: fair share, plan limits, audit, statement observers. */
  readonly transactionSettings: RequestTransactionSettings;
  readonly limits: AbuseLimits;
  readonly production: boolean;
  readonly settings: RealtimeSettings;
  readonly metrics: RealtimeMetrics;
  readonly audit: AuditSink;
  readonly logger: Logger;
  /** The largest WebSocket message accepted (HTTP_BODY_LIMIT_BYTES, as for HTTP bodies). */
  readonly maxPayloadBytes: number;
  readonly trustedDocuments?: TrustedDocuments | undefined;
}

export interface RealtimeServer {
  readonly sockets: number;
  /** New sockets and subscriptions are refused from now on; existing ones go on. */
  startDraining(): void;
  /** Lets deliveries in flight reach their sockets (up to `timeoutMs`), then closes every socket with 1001. */
  close(timeoutMs: number): Promise<void>;
}

interface SocketState {
  readonly principal: Principal;
  readonly requestId: string;
  readonly subscribers: Set<Subscriber>;
  /** Subscriptions of this socket being started (counted against the limits before they exist). */
  starting: number;
  /** Subscription starts of one socket run one after another: a socket holds at most one connection at a time. */
  chain: Promise<unknown>;
  expiry: NodeJS.Timeout | undefined;
}

/** What onSubscribe hands to `subscribe`: the subscriber it prepared. */
interface SubscriptionContext {
  readonly subscriber: Subscriber;
}

/** graphql-ws' `connectionInitWaitTimeout`: a socket that sends no `connection_init` within it is closed with 4408. */
const CONNECTION_INIT_TIMEOUT_MS = 3000;
/** How long a refused upgrade's connection may stay open after its 429, for the client to read it. */
const REFUSED_SOCKET_GRACE_MS = 1000;
/** setTimeout's largest delay; a token valid longer is checked again after this. */
const MAX_TIMER_MS = 2_147_483_647;
/** A WebSocket close reason is at most 123 bytes. */
const reason = (text: string) => (Buffer.byteLength(text) <= 123 ? text : `${Buffer.from(text).subarray(0, 120).toString('utf8')}...`);

/**
 * GraphQL subscriptions over graphql-ws on the HTTP server's own port and path (issue 12 §1). Every guarantee of
 * the HTTP path holds for a socket:
 *  - authentication at `connection_init` with the HTTP verifier, and the membership check of the HTTP
 *    transaction prologue (app.enter_tenant); refused with 4401 (token) or 4403 (not a member), with a reason;
 *  - the socket closes when its token expires (4401), and a subscriber removed from its tenant is dropped by the
 *    next batch of its tenant (4403);
 *  - a subscription document passes the same parse (token limit), validation (GraphQL Armor's depth, alias and
 *    directive rules) and cost limit as an HTTP document; queries and mutations are refused here (they belong
 *    to HTTP, with its transaction and audit); with trusted documents, only the manifest's texts run;
 *  - subscriptions per socket and per tenant are bounded (TOO_MANY_SUBSCRIPTIONS), each subscriber's queue too;
 *  - errors are formatted by the HTTP error policy (unexpected ones masked and logged).
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
  const { schema, hub, metrics, logger, settings } = options;
  const armor = abuseLimits(options.limits, options.production);
  const rules = [...specifiedRules, ...armor.validationRules];
  const format = loggingFormatError(logger);
  // With trusted documents, a subscription is admitted as an HTTP request is (no introspection over the socket).
  const trustedGate = options.trustedDocuments
    ? createTrustedRequestGate(options.trustedDocuments, { introspection: false, maxTokens: options.limits.maxTokens })
    : undefined;
  const states = new WeakMap<WebSocket, SocketState>();
  const sockets = new Set<WebSocket>();
  const perTenant = new Map<string, number>();
  const socketsPerTenant = new Map<string, number>();
  /** Each not yet authenticated socket's slot of the pending bound; given back at its ack (or its close). */
  const pendingSlots = new WeakMap<WebSocket, () => void>();
  const pending = new PendingSocketLimiter({ perAddress: settings.maxPendingSocketsPerAddress, total: settings.maxPendingSockets });
  let draining = false;

  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = '';
    }
    if (pathname !== options.path || draining) {
      const status = draining ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    // SECURITY (memory, descriptors): before its connection_init a socket is known by its address only; the
    // sockets of one address (counted as the HTTP path counts tokenless requests) and of the server are bounded.
    const slot = pending.acquire(clientAddress(req));
    if (typeof slot === 'string') {
      metrics.socketsRefused.inc({ bound: slot });
      refuseUpgrade(socket, slot, slot === 'per_address' ? settings.maxPendingSocketsPerAddress : settings.maxPendingSockets);
      return;
    }
    metrics.pendingSockets.inc();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      slot.release();
      metrics.pendingSockets.dec();
    };
    // Every way a pending socket ends closes this TCP socket: a refused init, the init timeout, the client going
    // away, a handshake ws refused, the server stopping. The ack releases earlier (authenticate).
    socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (ws) => {
      pendingSlots.set(ws, release);
      wss.emit('connection', ws, req);
    });
  };
  options.server.on('upgrade', onUpgrade);
  wss.on('connection', (socket: WebSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const closeSocket = (socket: WebSocket, code: number, text: string) => {
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) socket.close(code, reason(text));
  };

  const changeTenantCount = (tenantId: string, delta: number) => {
    const next = (perTenant.get(tenantId) ?? 0) + delta;
    if (next <= 0) perTenant.delete(tenantId);
    else perTenant.set(tenantId, next);
  };

  // The start of a subscription is audited by its start transaction (RequestTransaction, operation type
  // subscription); its end here, with its duration and the events it delivered.
  const auditEnd = (subscriber: Subscriber) => {
    const { principal, requestId, operationName } = subscriber.init;
    options.audit.enqueue({
      tenantId: principal.tenantId,
      userId: principal.userId,
      requestId,
      source: 'api',
      operationType: 'subscription',
      operationName,
      outcome: 'committed',
      startedAt: subscriber.startedAt.toISOString(),
      durationMs: performance.now() - subscriber.startedMs,
      eventsDelivered: subscriber.delivered,
    });
  };

  const ended = (socket: WebSocket, state: SocketState) => (subscriber: Subscriber, why: SubscriptionEndReason) => {
    hub.unregister(subscriber);
    state.subscribers.delete(subscriber);
    changeTenantCount(subscriber.tenantId, -1);
    metrics.subscriptions.dec();
    metrics.subscriptionsEnded.inc({ reason: why });
    auditEnd(subscriber);
    if (why === 'slow_consumer') {
      metrics.slowConsumersDropped.inc();
      closeSocket(
        socket,
        CLOSE_CODES.slowConsumer,
        'Slow consumer: events arrived faster than they were read; resubscribe with `after` = your last cursor',
      );
    } else if (why === 'not_member') {
      closeSocket(socket, CLOSE_CODES.forbidden, "Forbidden: the token's user is no longer a member of its tenant");
    } else if (why === 'suspended') {
      closeSocket(socket, CLOSE_CODES.forbidden, "TENANT_SUSPENDED: the token's tenant is suspended; its data is kept");
    }
  };

  async function authenticate(socket: WebSocket, params: Record<string, unknown> | undefined): Promise<boolean> {
    const header = params?.Authorization ?? params?.authorization;
    if (typeof header !== 'string') {
      closeSocket(socket, CLOSE_CODES.unauthorized, 'Unauthorized: send { "Authorization": "Bearer <token>" } as the connection_init payload');
      return false;
    }
    let principal: Principal;
    try {
      principal = await options.verifyToken(header);
    } catch (error) {
      const message = error instanceof UnauthenticatedError ? error.message : 'Token could not be verified.';
      closeSocket(socket, CLOSE_CODES.unauthorized, `Unauthorized: ${message}`);
      return false;
    }
    // SECURITY: the same membership check as an HTTP request's: the transaction prologue (app.enter_tenant)
    // refuses a user who is not a member of the token's tenant (SQLSTATE TG002).
    const requestId = randomUUID();
    const check = new RequestTransaction(options.database, principal, options.transactionSettings, requestId);
    check.operationType = 'subscription';
    try {
      await check.get();
      await check.commit();
    } catch (error) {
      await check.rollback();
      if ((error as { code?: unknown }).code === 'TG002') {
        closeSocket(socket, CLOSE_CODES.forbidden, "Forbidden: the token's user is not a member of its tenant");
      } else if ((error as { code?: unknown }).code === 'TG004' || (error instanceof AppError && error.code === 'TENANT_SUSPENDED')) {
        closeSocket(socket, CLOSE_CODES.forbidden, "TENANT_SUSPENDED: the token's tenant is suspended; its data is kept");
      } else if (error instanceof AppError) {
        // The tenant's rate limit or fair share (RATE_LIMITED, SERVER_BUSY): its message says when to come back.
        closeSocket(socket, CLOSE_CODES.unavailable, `${error.code}: ${error.message}`);
      } else {
        logger.warn({ err: { message: (error as Error).message } }, 'realtime connection could not be confirmed');
        closeSocket(socket, CLOSE_CODES.unavailable, 'Service unavailable: the database could not confirm the connection; reconnect later');
      }
      return false;
    }
    if (socket.readyState !== socket.OPEN) return false;
    // SECURITY (memory): sockets of one tenant are bounded, so no tenant can hold the server's memory with idle sockets.
    const open = socketsPerTenant.get(principal.tenantId) ?? 0;
    if (open >= settings.maxSocketsPerTenant) {
      closeSocket(
        socket,
        CLOSE_CODES.tooManySockets,
        `Too many sockets: your tenant has ${settings.maxSocketsPerTenant} open here; share one socket per client`,
      );
      return false;
    }
    socketsPerTenant.set(principal.tenantId, open + 1);
    const state: SocketState = { principal, requestId, subscribers: new Set(), starting: 0, chain: Promise.resolve(), expiry: undefined };
    const expiresAt = (decodeJwt(header.trim().slice('Bearer '.length)).exp ?? 0) * 1000;
    const armExpiry = () => {
      const remaining = expiresAt - Date.now();
      if (remaining > MAX_TIMER_MS) {
        state.expiry = setTimeout(armExpiry, MAX_TIMER_MS);
        return;
      }
      state.expiry = setTimeout(
        () => {
          for (const subscriber of state.subscribers) subscriber.end('token_expired');
          closeSocket(socket, CLOSE_CODES.unauthorized, 'Unauthorized: the token expired; reconnect with a fresh token');
        },
        Math.max(0, remaining),
      );
      state.expiry.unref();
    };
    armExpiry();
    states.set(socket, state);
    metrics.sockets.inc();
    // Authenticated: from now on the socket counts against its tenant's bound, no longer its address's.
    pendingSlots.get(socket)?.();
    return true;
  }

  async function prepare(
    socket: WebSocket,
    id: string,
    payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null; extensions?: unknown },
  ) {
    const state = states.get(socket);
    if (!state) return [new UnauthenticatedError('The connection is not authenticated; send connection_init first.')];
    if (draining) return [new ServiceUnavailableError('The server is shutting down; subscribe again (another replica will answer).')];
    let query = payload.query;
    if (trustedGate) {
      // The HTTP path's rules: an id (`documentId`, `extensions.persistedQuery.sha256Hash`) names a manifest text
      // (graphql-ws requires a `query` string: an empty one stands for none), or the text is one byte for byte.
      const { query: text, ...rest } = payload;
      const decision = trustedGate('POST', text === '' ? rest : payload, '');
      if (!decision.admitted) return [new AppError(decision.code, decision.message)];
      query = (decision.body as { query?: unknown }).query as string;
    }
    if (typeof query !== 'string' || query === '')
      return [new AppError('BAD_REQUEST', 'The subscribe message has no query; send the subscription document as `query`.')];
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: options.limits.maxTokens });
    } catch (error) {
      const tokens = tokenLimitOf((error as Error).message);
      if (tokens !== undefined) return [new QueryLimitError('tokens', tokens)];
      return [new GraphQLError((error as Error).message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
    }
    const invalid = validate(schema, document, rules);
    if (invalid.length > 0) {
      return invalid.map((error) =>
        error.extensions.code
          ? error
          : new GraphQLError(error.message, { nodes: error.nodes ?? null, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }),
      );
    }
    const operationName = payload.operationName ?? null;
    const operation = getOperationAST(document, operationName);
    if (!operation) {
      return [
        new GraphQLError('Send the `operationName` of one operation in the document.', { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } }),
      ];
    }
    if (operation.operation !== 'subscription') {
      return [
        new AppError('BAD_REQUEST', `The WebSocket carries subscriptions only; send ${operation.operation}s over HTTP (POST ${options.path}).`),
      ];
    }
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], payload.variables ?? {});
    if (coerced.errors) return coerced.errors.map((error) => new BadUserInputError(error.message));
    const variables = coerced.coerced;
    const cost = getComplexity({
      schema,
      query: document,
      variables,
      ...(operationName ? { operationName } : {}),
      estimators: QUERY_COST_ESTIMATORS,
    });
    if (cost > options.limits.maxCost) return [new QueryLimitError('cost', options.limits.maxCost, cost)];
    const selection = operation.selectionSet.selections[0];
    if (operation.selectionSet.selections.length !== 1 || selection?.kind !== 'Field' || selection.name.value.startsWith('__')) {
      return [new AppError('BAD_REQUEST', 'Select one subscription field directly (messagePosted or conversationChanged), not through a fragment.')];
    }
    const field = selection.name.value as SubscriptionField;
    const args = getArgumentValues(schema.getSubscriptionType()!.getFields()[field]!, selection as FieldNode, variables) as {
      conversationId?: string;
      after?: string | null;
    };

    if (state.subscribers.size + state.starting >= settings.maxSubscriptionsPerSocket) {
      return [tooMany('maxSubscriptionsPerSocket', settings.maxSubscriptionsPerSocket, 'this WebSocket')];
    }
    const { tenantId } = state.principal;
    if ((perTenant.get(tenantId) ?? 0) >= settings.maxSubscriptionsPerTenant) {
      return [tooMany('maxSubscriptionsPerTenant', settings.maxSubscriptionsPerTenant, 'your tenant on this server')];
    }
    state.starting++;
    changeTenantCount(tenantId, 1);
    let position: bigint;
    try {
      const conversation =
        field === 'messagePosted'
          ? { localId: decodeGlobalId(args.conversationId!, 'Conversation', 'conversationId').localId, globalId: args.conversationId! }
          : null;
      let after: bigint | null = null;
      if (args.after != null) {
        const decoded = decodeEventCursor(args.after, tenantId);
        if (decoded === null) {
          throw new BadUserInputError(
            '`after` is not an event cursor of your tenant; pass the `cursor` of an event you received, or omit `after`.',
            'after',
          );
        }
        after = BigInt(decoded);
      }
      const start = new RequestTransaction(options.database, state.principal, options.transactionSettings, `${state.requestId}/${id}`.slice(0, 128));
      start.operationType = 'subscription';
      start.operationName = operationName ?? operation.name?.value;
      const starting = state.chain.then(() => hub.startPosition(start, conversation, after));
      state.chain = starting.catch(() => {});
      position = await starting;
    } catch (error) {
      changeTenantCount(tenantId, -1);
      if ((error as { code?: unknown }).code === 'TG002') {
        closeSocket(socket, CLOSE_CODES.forbidden, "Forbidden: the token's user is no longer a member of its tenant");
        return [new AppError('FORBIDDEN', "The token's user is no longer a member of its tenant.")];
      }
      if (error instanceof GraphQLError) return [error];
      const mapped = mapDatabaseError(error, UNIQUE_VIOLATIONS);
      if (mapped) return [mapped];
      logger.error({ err: { message: (error as Error).message }, requestId: state.requestId }, 'subscription start failed');
      return [new ServiceUnavailableError('The subscription could not be started now; subscribe again in a moment.')];
    } finally {
      state.starting--;
    }
    if (socket.readyState !== socket.OPEN) {
      changeTenantCount(tenantId, -1);
      return [new AppError('BAD_REQUEST', 'The socket closed while the subscription started.')];
    }
    const subscriber = new Subscriber({
      requestId: `${state.requestId}/${id}`.slice(0, 128),
      principal: state.principal,
      field,
      conversationId: field === 'messagePosted' ? decodeGlobalId(args.conversationId!, 'Conversation').localId : null,
      position,
      document,
      operationName: operationName ?? operation.name?.value ?? null,
      variables,
      executionKey: JSON.stringify([query, operationName ?? operation.name?.value ?? null, variables]),
      maxQueuedEvents: settings.queueMaxEvents,
      maxQueuedBytes: settings.queueMaxBytes,
      onEnd: ended(socket, state),
      onRoom: (room) => hub.room(room),
      onHandOver: (recordedAt) => {
        metrics.eventsDelivered.inc();
        const recorded = Date.parse(recordedAt);
        if (Number.isFinite(recorded)) metrics.commitToSend.observe(Math.max(0, Date.now() - recorded) / 1000);
      },
    });
    state.subscribers.add(subscriber);
    metrics.subscriptions.inc();
    const context: SubscriptionContext = { subscriber };
    return { schema, document, operationName, variableValues: variables, contextValue: context } satisfies ExecutionArgs;
  }

  const formatAll = (errors: readonly GraphQLError[]): GraphQLFormattedError[] => errors.map((error) => format(error.toJSON(), error));

  useServer<Record<string, unknown> | undefined, { socket: WebSocket; request: IncomingMessage }>(
    {
      schema,
      connectionInitWaitTimeout: CONNECTION_INIT_TIMEOUT_MS,
      onConnect: (ctx) => authenticate(ctx.extra.socket, ctx.connectionParams),
      onSubscribe: (ctx, id, payload) => prepare(ctx.extra.socket, id, payload),
      subscribe: (args) => {
        const { subscriber } = args.contextValue as SubscriptionContext;
        if (!subscriber.ended) hub.register(subscriber);
        return subscriber;
      },
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: formatAll(result.errors) } : undefined),
      onError: (_ctx, _id, _payload, errors) => formatAll(errors),
      onClose: (ctx) => {
        const state = states.get(ctx.extra.socket);
        if (!state) return;
        clearTimeout(state.expiry);
        for (const subscriber of state.subscribers) subscriber.end('completed');
        states.delete(ctx.extra.socket);
        const left = (socketsPerTenant.get(state.principal.tenantId) ?? 1) - 1;
        if (left > 0) socketsPerTenant.set(state.principal.tenantId, left);
        else socketsPerTenant.delete(state.principal.tenantId);
        metrics.sockets.dec();
      },
    },
    wss,
    12_000,
  );

  return {
    get sockets() {
      return sockets.size;
    },
    startDraining() {
      draining = true;
    },
    async close(timeoutMs) {
      draining = true;
      await hub.drain();
      // In-flight deliveries: what the last batches queued goes out before the sockets close.
      const deadline = performance.now() + timeoutMs;
      while (performance.now() < deadline && [...sockets].some((socket) => pendingOn(socket, states.get(socket)))) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const socket of sockets) {
        const state = states.get(socket);
        for (const subscriber of state?.subscribers ?? []) subscriber.end('shutdown');
        closeSocket(socket, CLOSE_CODES.goingAway, 'Going away: the server is stopping; reconnect and resume with your last cursor');
      }
      options.server.off('upgrade', onUpgrade);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // Sockets that do not answer the close handshake are cut after a moment.
      setTimeout(() => {
        for (const socket of sockets) socket.terminate();
      }, 1000).unref();
      await hub.close();
    },
  };
}

/**
 * Refuses an upgrade past the pending-socket bound with HTTP 429 and `Retry-After`, before the WebSocket is
 * accepted. Why not accept it and close it with a code:
 *  - nothing is allocated for the socket (no ws object, no init timer, no close handshake a client could stall),
 *    so the bound holds exactly;
 *  - 429 with Retry-After is the refusal every HTTP client and proxy knows; Node clients (ws) report
 *    "Unexpected server response: 429" and can read the body; a browser sees a failed connection (close 1006),
 *    which graphql-ws' client retries with its back-off — right for an overload that passes. A close code after
 *    acceptance would have to be one graphql-ws knows, and its own 4429 ("too many initialisation requests")
 *    makes its client give up for good.
 * A pending socket frees its slot within the init timeout at the latest, hence the Retry-After.
 */
function refuseUpgrade(socket: Duplex, bound: PendingSocketRefusal, max: number): void {
  const who = bound === 'per_address' ? 'your address has' : 'this server has';
  const setting = bound === 'per_address' ? 'REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS' : 'REALTIME_MAX_PENDING_SOCKETS';
  const retryAfter = Math.ceil(CONNECTION_INIT_TIMEOUT_MS / 1000);
  const body = JSON.stringify({
    errors: [
      {
        message:
          `Too many pending WebSockets: ${who} ${max} sockets without a completed connection_init, the limit (${setting}). ` +
          `Send connection_init on the sockets you open (one socket per client is enough), and retry after ${retryAfter} s.`,
        extensions: { code: 'TOO_MANY_PENDING_SOCKETS', limit: bound === 'per_address' ? 'maxPendingSocketsPerAddress' : 'maxPendingSockets' },
      },
    ],
  });
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: ${retryAfter}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // A refused socket is not counted, so a client that never closes its side must not keep the descriptor: it is
  // cut a moment after the answer (time enough to read it), whatever the client sends meanwhile.
  setTimeout(() => socket.destroy(), REFUSED_SOCKET_GRACE_MS).unref();
}

function pendingOn(socket: WebSocket, state: SocketState | undefined): boolean {
  if (socket.bufferedAmount > 0) return true;
  return [...(state?.subscribers ?? [])].some((subscriber) => subscriber.queued > 0);
}

function tooMany(limit: 'maxSubscriptionsPerSocket' | 'maxSubscriptionsPerTenant', max: number, scope: string): AppError {
  return new AppError(
    'TOO_MANY_SUBSCRIPTIONS',
    `At most ${max} subscriptions are allowed on ${scope}; complete one you no longer need before starting another.`,
    { limit, [limit]: max },
  );
}
