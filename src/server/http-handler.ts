import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import cors from 'cors';
import type { RequestContext } from './request-context.js';

export interface HttpHandlerOptions {
  apollo: ApolloServer<RequestContext>;
  /** Builds the context of one request; may throw (bad token) and must not touch the database. */
  createContext: (req: IncomingMessage, requestId: string) => Promise<RequestContext>;
  health: () => Promise<boolean>;
  bodyLimitBytes: number;
  corsOrigins: (string | RegExp)[];
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The HTTP layer on plain `node:http`: routing, CORS, a bounded body reader, request ids, and the safety net
 * that guarantees every request's transaction ends even when Apollo never reached its request hooks or the
 * client went away.
 */
export function createHttpHandler(options: HttpHandlerOptions) {
  const corsMiddleware = cors({
    origin: options.corsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  });

  return (req: IncomingMessage, res: ServerResponse): void => {
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://localhost');

    if (url.pathname === '/health' && req.method === 'GET') {
      void options.health().then((ok) => sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable' }));
      return;
    }
    if (url.pathname !== '/graphql') {
      sendJson(res, 404, { errors: [{ message: `Not found: the GraphQL endpoint is /graphql`, extensions: { code: 'NOT_FOUND' } }] });
      return;
    }
    corsMiddleware(req, res, () => {
      if (req.method === 'OPTIONS') {
        res.statusCode = 204;
        res.end();
        return;
      }
      void handleGraphQL(req, res, url, requestId, options);
    });
  };
}

async function handleGraphQL(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  requestId: string,
  options: HttpHandlerOptions,
): Promise<void> {
  let context: RequestContext | undefined;
  // SECURITY: Apollo keeps executing after a client disconnects; without this the work would commit.
  res.on('close', () => {
    if (!res.writableFinished) void context?.transaction?.rollback();
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
    const response = await options.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body: parsed },
      context: async () => (context = await options.createContext(req, requestId)),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
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
    await context?.transaction?.rollback();
  }
}

const TOO_LARGE = Symbol('too large');

function readBody(req: IncomingMessage, limit: number): Promise<string | typeof TOO_LARGE> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.resolve(TOO_LARGE);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const MALFORMED_JSON = Symbol('malformed JSON');

/** JSON bodies are parsed here; Apollo judges everything else (its CSRF rules reject "simple" content types). */
function parseBody(body: string, headers: HeaderMap): unknown {
  if (!body) return undefined;
  if (!(headers.get('content-type') ?? '').toLowerCase().includes('application/json')) return body;
  try {
    return JSON.parse(body);
  } catch {
    return MALFORMED_JSON;
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}
