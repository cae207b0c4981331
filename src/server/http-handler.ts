import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import cors, { type CorsOptions } from 'cors';
import { GraphQLError } from 'graphql';
import { AppError } from '../errors/app-error.js';
import { MALFORMED_JSON, parseBody, readBody, sendGraphQLErrors, sendJson, setRetryAfterIfRetryable, TOO_LARGE } from './http-body.js';
import { exceedsJsonDepth, tooDeepMessage } from './json-depth.js';
import { capLogField, errorForLog, MAX_LOGGED_USER_AGENT } from '../observability/log-fields.js';
import type { HttpRoute, Metrics } from '../observability/metrics.js';
import { tagErrorWithRequest } from '../observability/error-request-ids.js';
import { causeOf } from './plugins/error-plugin.js';
import { createRequestTelemetry, requestOutcome, type RequestTelemetry } from '../observability/request-telemetry.js';
import type { RequestTransaction } from '../tenancy/request-transaction.js';
import type { ExplorerRoutes } from './explorer/explorer-routes.js';
import { sendRefusal, type InFlightLimiter } from './in-flight-limiter.js';
import { clientAddress } from './client-address.js';
import type { Logger } from './logger.js';
import { limitResponseSize } from './response-size-limit.js';
import { guardSlowReader } from './slow-reader-guard.js';
import type { RequestContext } from '../graphql/request-context.js';
import type { TrustedRequestGate } from './trusted/trusted-request-gate.js';

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
  /** The effective CORS policy of /graphql (cors-policy.ts). */
  cors: CorsOptions;
  /** The offline explorer's routes, when it is switched on (explorer/explorer-routes.ts). */
  explorer?: ExplorerRoutes | undefined;
  /** Larger GraphQL responses are refused with RESPONSE_TOO_LARGE (response-size-limit.ts). */
  maxResponseBytes: number;
  /** A response whose client reads nothing for this long is dropped (slow-reader-guard.ts). */
  writeTimeoutMs: number;
  /** Bounds GraphQL requests in flight per tenant and per tokenless address (in-flight-limiter.ts). */
  inFlightLimiter: InFlightLimiter;
  /** GRAPHQL_TRUSTED_DOCUMENTS: only the manifest's operations reach Apollo (trusted/trusted-request-gate.ts). */
  trustedRequestGate?: TrustedRequestGate;
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
  const corsMiddleware = cors(options.cors);
  let draining = false;
  const inFlight = new Set<InFlightRequest>();
  let idleWaiters: (() => void)[] = [];

  /** Ends a transaction the plugin did not end (or rolls one back on shutdown), and counts how it ended. */
  const rollBack = async (transaction: RequestTransaction | null | undefined) => {
    if (transaction) metrics.transactionEnded(await transaction.rollback());
  };

  async function handleGraphQL(req: IncomingMessage, res: ServerResponse, url: URL, requestId: string): Promise<void> {
    const request: InFlightRequest = { context: undefined, telemetry: createRequestTelemetry(), userAgent: req.headers['user-agent'] };
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
      // A request without a token is bounded per address before its body is read (the tenant is not known).
      const refused = req.headers.authorization ? null : options.inFlightLimiter.admitAnonymous(clientAddress(req), res);
      if (refused) return sendRefusal(req, res, refused);
      const body = await readBody(req, options.bodyLimitBytes);
      if (body === TOO_LARGE) {
        res.setHeader('connection', 'close');
        sendGraphQLErrors(req, res, 413, [
          {
            message: `Request body exceeds the limit of ${options.bodyLimitBytes} bytes; send less in one request.`,
            extensions: { code: 'PAYLOAD_TOO_LARGE', limit: 'bodyLimitBytes', limitBytes: options.bodyLimitBytes },
          },
        ]);
        return;
      }
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const parsed = parseBody(body, headers);
      if (parsed === MALFORMED_JSON) {
        sendGraphQLErrors(req, res, 400, [{ message: 'Request body is not valid JSON.', extensions: { code: 'BAD_REQUEST' } }]);
        return;
      }
      const tooDeep = nestedTooDeep(parsed, url);
      if (tooDeep) {
        sendGraphQLErrors(req, res, 400, [{ message: tooDeepMessage(tooDeep), extensions: { code: 'BAD_REQUEST' } }]);
        return;
      }
      requestedName = (parsed as { operationName?: unknown } | undefined)?.operationName ?? url.searchParams.get('operationName');
      const gated = options.trustedRequestGate?.(req.method ?? 'GET', parsed, url.search) ?? { admitted: true, body: parsed, search: url.search };
      if (!gated.admitted) {
        sendJson(res, 400, { errors: [{ message: gated.message, extensions: { code: gated.code } }] });
        return;
      }
      const createContext = async (): Promise<RequestContext> => {
        request.context = await options.createContext(req, requestId, request.telemetry);
        // SECURITY: the client may have left while the context was created (a slow token verification, a
        // JWKS fetch), when the close handler had no transaction to end: end it before it can begin.
        if (clientGone) {
          await rollBack(request.context.transaction);
          throw clientGoneError();
        }
        const tenantId = request.context.principal?.tenantId;
        const refusedTenant = tenantId ? await options.inFlightLimiter.admitTenant(tenantId, res) : null;
        if (refusedTenant) throw refusedTenant;
        return request.context;
      };
      const apolloResponse = await options.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: gated.search, body: gated.body },
        context: async () => {
          try {
            return await createContext();
          } catch (error) {
            // Apollo formats it with no request at hand: its log line gets the request id from the tag.
            tagErrorWithRequest(causeOf(error), requestId);
            throw error;
          }
        },
      });
      const response = limitResponseSize(apolloResponse, options.maxResponseBytes);
      for (const [key, value] of response.headers) res.setHeader(key, value);
      // While draining, keep-alive connections end with this response so the server can close.
      if (draining) res.setHeader('connection', 'close');
      res.statusCode = response.status ?? 200;
      setRetryAfterIfRetryable(res);
      if (response.body.kind === 'complete') {
        res.end(response.body.string);
        guardSlowReader(res, options.writeTimeoutMs, (unsentBytes) =>
          options.logger.warn({ requestId, unsentBytes }, 'response dropped: the client did not read it'),
        );
      } else {
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch (error) {
      // Apollo answers its own errors; this is the HTTP layer's (a failed write, a broken stream, a bug here).
      // A client that went away mid-body (ECONNRESET "aborted") is no server fault.
      if (req.destroyed && (error as { code?: unknown } | null)?.code === 'ECONNRESET') {
        options.logger.info({ requestId }, 'client went away while sending the request');
      } else {
        options.logger.error({ err: errorForLog(error), requestId }, 'unexpected error in the HTTP handler');
      }
      if (!res.headersSent) {
        sendGraphQLErrors(req, res, 500, [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
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
    // SECURITY: every client-chosen string is capped (observability/log-fields.ts): a 300,000-character
    // operation name parses as one token and made a 300 KB log line.
    const name = telemetry.operationName ?? (typeof requestedName === 'string' && GRAPHQL_NAME.test(requestedName) ? requestedName : undefined);
    const operationName = capLogField(name);
    metrics.graphqlOperationDuration.observe(
      { operation_type: telemetry.operationType ?? 'unknown', operation_name: metrics.operationLabel(name) },
      durationMs / 1000,
    );
    // SECURITY: ids, names and numbers only: never a header, a token, variables or a body.
    options.logger.info(
      {
        requestId,
        // The ids the prologue entered; before (or without) it, the token's own names for them.
        tenantId: context?.transaction?.identity?.tenantId ?? context?.principal?.tenantId,
        userId: context?.transaction?.identity?.userId ?? context?.principal?.userId,
        operationType: telemetry.operationType,
        operationName,
        durationMs: Math.round(durationMs * 10) / 10,
        // No context: refused before one existed (bad token, 4xx), or nothing to do (the Sandbox page).
        outcome: context ? requestOutcome(telemetry, context.transaction?.outcome) : status >= 400 ? 'rejected' : 'none',
        status,
        userAgent: capLogField(request.userAgent, MAX_LOGGED_USER_AGENT),
      },
      'graphql request',
    );
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    try {
      serve(req, res, requestId);
    } catch (error) {
      // SECURITY: thrown from a request listener, an error is uncaught and ends the process: one
      // `GET http://[ HTTP/1.1` without a token did (an invalid URL, now refused below).
      options.logger.error({ err: errorForLog(error), requestId }, 'unexpected error in the HTTP handler');
      if (res.headersSent) res.destroy();
      else sendGraphQLErrors(req, res, 500, [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    }
  };

  function serve(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    const startedAt = performance.now();
    res.setHeader('x-request-id', requestId);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendGraphQLErrors(req, res, 400, [
        { message: 'The request target is not a valid URL; send requests to /graphql.', extensions: { code: 'BAD_REQUEST' } },
      ]);
      return;
    }
    const route = (ROUTES.has(url.pathname) ? url.pathname : options.explorer?.handles(url.pathname) ? '/graphiql' : 'other') as HttpRoute;
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
    if (route === '/graphiql') {
      options.explorer!.serve(req, res, url.pathname);
      return;
    }
    if (route !== '/graphql') {
      sendGraphQLErrors(req, res, 404, [{ message: `Not found: the GraphQL endpoint is /graphql`, extensions: { code: 'NOT_FOUND' } }]);
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
        sendGraphQLErrors(req, res, 503, [
          { message: 'The server is shutting down; send the request again.', extensions: { code: 'SERVICE_UNAVAILABLE' } },
        ]);
        return;
      }
      // An unhandled rejection would end the process like an uncaught exception (Node's default).
      handleGraphQL(req, res, url, requestId).catch((error: unknown) => {
        options.logger.error({ err: errorForLog(error), requestId }, 'unexpected error in the HTTP handler');
        if (!res.writableEnded) res.destroy();
      });
    });
  }

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
function clientGoneError(): AppError {
  return new AppError('CLIENT_CLOSED_REQUEST', 'The client closed the connection before the request was authenticated.');
}

interface InFlightRequest {
  context: RequestContext | undefined;
  readonly telemetry: RequestTelemetry;
  readonly userAgent: string | undefined;
}

/**
 * Where the request nests JSON too deep (see json-depth.ts), or null: the POST body, or the GET parameters
 * Apollo would parse itself. A parameter that is not JSON is left to Apollo, which answers 400 for it.
 */
function nestedTooDeep(body: unknown, url: URL): string | null {
  if (exceedsJsonDepth(body)) return 'The request body';
  for (const name of ['variables', 'extensions']) {
    const text = url.searchParams.get(name);
    if (text === null) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    if (exceedsJsonDepth(value)) return `The \`${name}\` query parameter`;
  }
  return null;
}
