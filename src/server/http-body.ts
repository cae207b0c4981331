import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeaderMap } from '@apollo/server';
import type { KnownErrorCode } from '../errors/error-codes.js';
import { graphqlResponseContentType } from './response-media-type.js';

/** Request bodies in, JSON out: the bounded reader and parser under the HTTP handler. */

/** readBody's answer when the body exceeds the limit (the rest of it is drained, not buffered). */
export const TOO_LARGE = Symbol('too large');

/** Reads a request body up to `limit` bytes; refuses a larger declared content-length without reading. */
export function readBody(req: IncomingMessage, limit: number): Promise<string | typeof TOO_LARGE> {
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

export const MALFORMED_JSON = Symbol('malformed JSON');

/** JSON bodies are parsed here; Apollo judges everything else (its CSRF rules reject "simple" content types). */
export function parseBody(body: string, headers: HeaderMap): unknown {
  if (!body) return undefined;
  if (!(headers.get('content-type') ?? '').toLowerCase().includes('application/json')) return body;
  try {
    return JSON.parse(body);
  } catch {
    return MALFORMED_JSON;
  }
}

/**
 * A retryable refusal (503: the database is away, the server is busy or draining) tells the client when to come
 * back. One second: outages the server rides out (a restarted connection, a failover) last about that long, and
 * clients add their own backoff. An answer that set its own Retry-After keeps it.
 */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function setRetryAfterIfRetryable(res: ServerResponse): void {
  if (res.statusCode === 503 && !res.hasHeader('retry-after')) res.setHeader('retry-after', String(DEFAULT_RETRY_AFTER_SECONDS));
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.statusCode = status;
  setRetryAfterIfRetryable(res);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}

/** A GraphQL error response of the HTTP layer's own, in the media type the client accepts (response-media-type.ts). */
export function sendGraphQLErrors(
  req: Pick<IncomingMessage, 'headers'>,
  res: ServerResponse,
  status: number,
  errors: { message: string; extensions: { code: KnownErrorCode } & Record<string, unknown> }[],
): void {
  res.statusCode = status;
  setRetryAfterIfRetryable(res);
  res.setHeader('content-type', graphqlResponseContentType(req));
  res.end(JSON.stringify({ errors }));
}
