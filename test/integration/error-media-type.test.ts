import { once } from 'node:events';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// Issue 11 §3: every non-200 GraphQL response is `application/graphql-response+json` when the client accepts it,
// so Apollo Client surfaces `extensions.code` instead of "Received status code 413". Apollo's own answers
// (400 validation, 401) negotiated already; the HTTP layer's own (413, 429, 400 for a body that is not JSON,
// 503 while draining) were always application/json.

/** What Apollo Client 4's HttpLink sends. */
const APOLLO_CLIENT_ACCEPT = 'application/graphql-response+json,application/json;q=0.9';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
const APPLICATION_JSON = 'application/json; charset=utf-8';
const BODY_LIMIT = 4_000;

let server: TestServer;
let tenant: TestTenant;
let closed = false;
beforeAll(async () => {
  server = await startTestServer({
    bodyLimitBytes: BODY_LIMIT,
    limits: { maxDepth: 4 },
    http: { maxInFlightPerAddress: 1 },
    shutdownTimeoutMs: 10_000,
  });
  tenant = await createTestTenant();
});
afterAll(async () => {
  if (!closed) await server.close();
});

interface Sent {
  status: number;
  contentType: string | null;
  code: unknown;
}

/** One request on a connection of its own (node:http, no keep-alive): draining closes idle pooled sockets. */
async function send(body: string, headers: Record<string, string>, accept: string | undefined): Promise<Sent> {
  const url = new URL(server.url);
  const req = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}), ...headers },
  });
  req.end(body);
  const [response] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errors?: { extensions?: { code?: unknown } }[] };
  return { status: response.statusCode!, contentType: response.headers['content-type'] ?? null, code: json.errors?.[0]?.extensions?.code };
}

/** Sends the same request with Apollo Client's Accept header and without one, and checks both answers. */
async function expectNegotiated(body: string, headers: Record<string, string>, status: number, code: string): Promise<void> {
  expect(await send(body, headers, APOLLO_CLIENT_ACCEPT)).toEqual({ status, contentType: GRAPHQL_RESPONSE_JSON, code });
  expect(await send(body, headers, undefined)).toEqual({ status, contentType: APPLICATION_JSON, code });
  expect(await send(body, headers, 'application/json')).toEqual({ status, contentType: APPLICATION_JSON, code });
}

const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });

/** An anonymous request whose body never completes: it holds its address' only in-flight slot until destroyed. */
async function holdAnonymousRequest(): Promise<ClientRequest> {
  const url = new URL(server.url);
  const held = httpRequest({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    // The server answers 100 Continue right before it emits 'request', whose handler admits the request
    // synchronously: once the client sees it, the slot is taken.
    headers: { 'content-type': 'application/json', 'content-length': '100', expect: '100-continue' },
  });
  held.on('error', () => {});
  held.flushHeaders();
  await once(held, 'continue');
  held.write('{"query":');
  return held;
}

describe('content type of error responses', () => {
  it('400 for a body that is not JSON (HTTP layer)', async () => {
    await expectNegotiated('{"query": ', auth(), 400, 'BAD_REQUEST');
  });

  it('400 for a document that does not validate (Apollo) and for a query over the depth limit', async () => {
    await expectNegotiated(JSON.stringify({ query: '{ noSuchField }' }), auth(), 400, 'GRAPHQL_VALIDATION_FAILED');
    const deep = '{ conversations { nodes { messages { nodes { conversation { id } } } } } }';
    await expectNegotiated(JSON.stringify({ query: deep }), auth(), 400, 'QUERY_TOO_DEEP');
  });

  it('401 for a bad token', async () => {
    await expectNegotiated(JSON.stringify({ query: '{ viewer { user { id } } }' }), { authorization: 'Bearer not-a-token' }, 401, 'UNAUTHENTICATED');
  });

  it('413 for a body over the limit (HTTP layer)', async () => {
    const body = JSON.stringify({ query: `{ __typename }`, variables: { padding: 'x'.repeat(BODY_LIMIT) } });
    await expectNegotiated(body, auth(), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('429 for a request over the in-flight bound (HTTP layer)', async () => {
    const held = await holdAnonymousRequest();
    try {
      await expectNegotiated(JSON.stringify({ query: '{ __typename }' }), {}, 429, 'TOO_MANY_CONCURRENT_REQUESTS');
    } finally {
      held.destroy();
    }
  });

  it('503 while the server drains (HTTP layer)', async () => {
    const held = await holdAnonymousRequest();
    const closing = server.close();
    closed = true;
    try {
      await expectNegotiated(JSON.stringify({ query: '{ __typename }' }), auth(), 503, 'SERVICE_UNAVAILABLE');
    } finally {
      held.destroy();
      await closing;
    }
  });
});
