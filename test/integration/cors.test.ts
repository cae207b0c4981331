import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * CORS of /graphql as a browser meets it: real preflights (OPTIONS with Origin and Access-Control-Request-*).
 * The header list is the issue's, written out here on purpose: a test that read the server's own list could not
 * notice a header dropped from it.
 */

const CLIENT_HEADERS = [
  // Ours: the token, Apollo's CSRF-prevention preflight headers, the request id.
  'content-type',
  'authorization',
  'apollo-require-preflight',
  'x-apollo-operation-name',
  'x-request-id',
  // Apollo Client's clientAwareness.
  'apollographql-client-name',
  'apollographql-client-version',
  // W3C Trace Context and Baggage (OpenTelemetry browser instrumentation), Sentry's tracing header.
  'traceparent',
  'tracestate',
  'baggage',
  'sentry-trace',
];

function preflight(server: TestServer, origin: string, requestHeaders = 'content-type'): Promise<Response> {
  return fetch(server.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });
}

/** What a browser checks: the origin echoed (or `*`) and every requested header listed. */
function allows(response: Response, origin: string, requestHeaders: string): boolean {
  const allowedOrigin = response.headers.get('access-control-allow-origin');
  const allowed = new Set((response.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()));
  return (allowedOrigin === origin || allowedOrigin === '*') && requestHeaders.split(',').every((h) => allowed.has(h.trim().toLowerCase()));
}

describe('CORS in development', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ corsAllowedHeaders: ['X-Tenant-Hint'] });
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(CLIENT_HEADERS)('allows the request header %s in a preflight from a local frontend', async (header) => {
    const response = await preflight(server, 'http://localhost:5173', header);
    expect(response.status).toBe(204);
    expect(allows(response, 'http://localhost:5173', header)).toBe(true);
  });

  it('allows all of them at once, as Apollo Client with clientAwareness under OpenTelemetry sends them', async () => {
    const headers = 'content-type,authorization,apollographql-client-name,apollographql-client-version,traceparent,tracestate,baggage';
    const response = await preflight(server, 'https://studio.apollographql.com', headers);
    expect(allows(response, 'https://studio.apollographql.com', headers)).toBe(true);
  });

  it('allows a header CORS_ALLOWED_HEADERS adds, and still refuses one nobody configured', async () => {
    expect(allows(await preflight(server, 'http://localhost:5173', 'x-tenant-hint'), 'http://localhost:5173', 'x-tenant-hint')).toBe(true);
    expect(allows(await preflight(server, 'http://localhost:5173', 'x-unknown'), 'http://localhost:5173', 'x-unknown')).toBe(false);
  });

  it('lets a page read x-request-id and Retry-After, and never allows credentials', async () => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { origin: 'http://localhost:5173', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    const exposed = (response.headers.get('access-control-expose-headers') ?? '').split(',');
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after']));
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });
});

describe('CORS in production', () => {
  let unlisted: TestServer;
  let listed: TestServer;
  let anyOrigin: TestServer;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      }),
    );
    unlisted = await startTestServer({ production: true, introspection: false });
    listed = await startTestServer({ production: true, introspection: false, corsOrigins: ['https://app.example.com'], logger });
    anyOrigin = await startTestServer({ production: true, introspection: false, corsOrigins: ['*'] });
  });
  afterAll(async () => {
    await Promise.all([unlisted.close(), listed.close(), anyOrigin.close()]);
  });

  it('allows no browser origin unless CORS_ORIGINS lists it: not localhost, not Apollo Studio', async () => {
    for (const origin of ['http://localhost:5173', 'https://studio.apollographql.com', 'https://app.example.com']) {
      const response = await preflight(unlisted, origin);
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('allows exactly the listed origin', async () => {
    expect(allows(await preflight(listed, 'https://app.example.com', 'authorization'), 'https://app.example.com', 'authorization')).toBe(true);
    for (const origin of ['https://app.example.com.evil.test', 'http://app.example.com', 'http://localhost:5173']) {
      expect((await preflight(listed, origin)).headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('answers `*` when CORS_ORIGINS is `*`', async () => {
    const response = await preflight(anyOrigin, 'https://anything.example', 'authorization,traceparent');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(allows(response, 'https://anything.example', 'authorization,traceparent')).toBe(true);
  });

  it('logs the effective CORS policy at boot', () => {
    const line = logLines.find((entry) => entry.msg === 'CORS policy');
    expect(line).toBeDefined();
    expect(line!.cors).toMatchObject({ origins: ['https://app.example.com'], credentials: false });
    expect((line!.cors as { allowedHeaders: string[] }).allowedHeaders).toEqual(expect.arrayContaining(CLIENT_HEADERS));
  });
});
