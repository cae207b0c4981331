import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import cors from 'cors';
import { GraphQLError } from 'graphql';
import { MALFORMED_JSON, parseBody, readBody, sendJson, TOO_LARGE } from './http-body.js';
import type { HttpRoute, Metrics } from '../observability/metrics.js';
import { createRequestTelemetry, requestOutcome, type RequestTelemetry } from '../observability/request-telemetry.js';
import type { RequestTransaction } from '../tenancy/request-transaction.js';
import type { Logger } from './logger.js';
import type { RequestContext } from './request-context.js';

export interface HttpHandlerOptions {
  apollo: ApolloServer<RequestContext>;
  /** Builds the context of one request; may throw (bad token) and must not touch the database. */
  createContext: (req: IncomingMessage, requestId: string, telemetry: RequestTelemetry) => Promise<RequestContext>;
  health: () => Promise<boolean>;
  /** null when the server can take traffic, otherwise why not. Not asked while draining. */
  readiness: () => Promise<string | null>;
  metrics: Metrics;
  logger: Logger;
  bodyLimitBytes: number;
  corsOrigins: (string | RegExp)[];
}

export interface HttpHandler {
  /** The `node:http` request listener. */
  readonly listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** GraphQL requests being served now. */
  readonly inFlight: number;
  /** From now on `/ready` answers 503 and new GraphQL requests are refused with 503; those in flight go on. */
  startDraining(): void;
  /** Resolves true once no GraphQL request is in flight, or false when `timeoutMs` passed first. */
  whenIdle(timeoutMs: number): Promise<boolean>;
  /** Rolls back the transaction of every GraphQL request in flight; resolves when each rollback has ended. */
  rollBackInFlight(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,127}$/;
const ROUTES = new Set<string>(['/graphql', '/health', '/ready', '/metrics']);
const METHODS = new Set(['GET', 'POST', 'OPTIONS', 'HEAD']);

/**
 * The HTTP layer on plain `node:http`: routing, CORS, a bounded body reader, request ids, metrics and the
 * request log, draining for shutdown, and the safety net that guarantees every request's transaction ends even
 * when Apollo never reached its request hooks or the client went away.
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const { metrics } = options;
  const corsMiddleware = cors({
    origin: options.corsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  });
  let draining = false;
  const inFlight = new Set<InFlightRequest>();
  let idleWaiters: (() => void)[] = [];

  /** Ends a transaction the plugin did not end (or rolls one back on shutdown), and counts how it ended. */
  const rollBack = async (transaction: RequestTransaction | null | undefined) => {
    if (transaction) metrics.transactionEnded(await transaction.rollback());
  };

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<void> {
    const request: InFlightRequest = { context: undefined, telemetry: createRequestTelemetry() };
    inFlight.add(request);
    let requestedName: unknown;
    let clientGone = false;
    // SECURITY: Apollo keeps executing after a client disconnects; without this the work would commit.
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      void rollBack(request.context?.transaction);
    });
    try {
      const body = await readBody(req, options.bodyLimitBytes);
      if (body === TOO_LARGE) {
        res.setHeader('connection', 'close');
        sendJson(res, 413, {
          errors: [{ message: `Request body exceeds the limit of ${options.bodyLimitBytes} bytes.`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
        });
        return;
      }
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const parsed = parseBody(body, headers);
      if (parsed === MALFORMED_JSON) {
        sendJson(res, 400, { errors: [{ message: 'Request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
        return;
      }
      requestedName = (parsed as { operationName?: unknown } | undefined)?.operationName ?? url.searchParams.get('operationName');
      const response = await options.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: parsed },
        context: async () => {
          request.context = await options.createContext(req, requestId, request.telemetry);
          // SECURITY: the client may have left while the context was created (a slow token verification, a
          // JWKS fetch), when the close handler had no transaction to end: end it before it can begin.
          if (clientGone) {
            await rollBack(request.context.transaction);
            throw clientGoneError();
          }
          return request.context;
        },
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      // While draining, keep-alive connections end with this response so the server can close.
      if (draining) res.setHeader('connection', 'close');
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
      } else {
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch (error) {
      if (!res.headersSent) {
        sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      } else {
        res.destroy(error as Error);
      }
    } finally {
      // SECURITY: whatever Apollo did not end (a request rejected before its hooks ran) is rolled back here,
      // so no connection leaks. A no-op when the plugin already committed or rolled back.
      await rollBack(request.context?.transaction);
      finish(request, requestId, res.statusCode, requestedName);
      inFlight.delete(request);
      if (inFlight.size === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  }

  /** The request's one log line and its operation histogram sample. */
  function finish(request: InFlightRequest, requestId: string, status: number, requestedName: unknown): void {
    const { context, telemetry } = request;
    const durationMs = performance.now() - telemetry.startedAt;
    const operationName =
      telemetry.operationName ?? (typeof requestedName === 'string' && GRAPHQL_NAME.test(requestedName) ? requestedName : undefined);
    metrics.graphqlOperationDuration.observe(
      { operation_type: telemetry.operationType ?? 'unknown', operation_name: metrics.operationLabel(operationName) },
      durationMs / 1000,
    );
    // SECURITY: ids, names and numbers only: never a header, a token, variables or a body.
    options.logger.info(
      {
        requestId,
        tenantId: context?.principal?.tenantId,
        userId: context?.principal?.userId,
        operationType: telemetry.operationType,
        operationName,
        durationMs: Math.round(durationMs * 10) / 10,
        // No context: refused before one existed (bad token, 4xx), or nothing to do (the Sandbox page).
        outcome: context ? requestOutcome(telemetry, context.transaction?.outcome) : status >= 400 ? 'rejected' : 'none',
        status,
      },
      'graphql request',
    );
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = performance.now();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = (ROUTES.has(url.pathname) ? url.pathname : 'other') as HttpRoute;
    const method = METHODS.has(req.method ?? '') ? req.method! : 'other';
    res.once('close', () => {
      metrics.httpRequestDuration.observe({ route, method, status: String(res.statusCode) }, (performance.now() - startedAt) / 1000);
    });

    if (route === '/health' && req.method === 'GET') {
      void options.health().then((ok) => sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (route === '/ready' && req.method === 'GET') {
      if (draining) {
        sendJson(res, 503, { status: 'draining' });
        return;
      }
      void options.readiness().then(
        (reason) => {
          if (draining) sendJson(res, 503, { status: 'draining' });
          else if (reason === null) sendJson(res, 200, { status: 'ready' });
          else sendJson(res, 503, { status: 'unavailable', reason });
        },
        () => sendJson(res, 503, { status: 'unavailable', reason: 'the readiness check failed' }),
      );
      return;
    }
    if (route === '/metrics' && req.method === 'GET') {
      void metrics.render().then(
        ({ contentType, body }) => {
          res.statusCode = 200;
          res.setHeader('content-type', contentType);
          res.end(body);
        },
        () => sendJson(res, 500, { status: 'metrics unavailable' }),
      );
      return;
    }
    if (route !== '/graphql') {
      sendJson(res, 404, { errors: [{ message: `Not found: the GraphQL endpoint is /graphql`, extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    corsMiddleware(req, res, () => {
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.end();
        return;
      }
      if (draining) {
        res.setHeader('connection', 'close');
        sendJson(res, 503, {
          errors: [{ message: 'The server is shutting down; send the request again.', extensions: { code: 'SERVICE_UNAVAILABLE' } }],
        });
        return;
      }
      void handleGraphQL(req, res, url, requestId);
    });
  };

  return {
    listener,
    get inFlight() {
      return inFlight.size;
    },
    startDraining() {
      draining = true;
    },
    whenIdle(timeoutMs) {
      if (inFlight.size === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          idleWaiters = idleWaiters.filter((waiter) => waiter !== wake);
          resolve(false);
        }, timeoutMs);
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        idleWaiters.push(wake);
      });
    },
    async rollBackInFlight() {
      await Promise.all([...inFlight].map((request) => rollBack(request.context?.transaction)));
    },
  };
}

/** Nobody reads this answer; it only keeps Apollo from executing for a client that has gone. */
function clientGoneError(): GraphQLError {
  return new GraphQLError('The client closed the connection before the request was authenticated.', {
    extensions: { code: 'CLIENT_CLOSED_REQUEST', http: { status: 499 } },
  });
}

interface InFlightRequest {
  context: RequestContext | undefined;
  readonly telemetry: RequestTelemetry;
}
