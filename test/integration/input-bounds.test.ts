import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_LIMITS } from '../../src/config/env.js';
import { AppError } from '../../src/errors/app-error.js';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { tagErrorWithRequest } from '../../src/observability/error-request-ids.js';
import { createApollo } from '../../src/server/apollo.js';
import { MAX_JSON_DEPTH } from '../../src/server/json-depth.js';
import { errorPlugin, loggingFormatError } from '../../src/server/plugins/error-plugin.js';
import type { RequestContext } from '../../src/graphql/request-context.js';
import { createRequestContext } from '../../src/server/create-request-context.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

const lines: Record<string, any>[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
let server: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  server = await startTestServer({ production: true, introspection: false, logger });
  tenant = await createTestTenant();
});
afterAll(async () => {
  await server.close();
});

const auth = () => ({ authorization: `Bearer ${tenant.admin.token}` });
/** `levels` arrays nested around 1, as JSON text. */
const nested = (levels: number) => '['.repeat(levels) + '1' + ']'.repeat(levels);
const unexpectedLines = () => lines.filter((line) => line.msg?.startsWith('unexpected error'));
const FILTER_QUERY = 'query Q($f: ConversationFilter) { conversations(filter: $f) { totalCount } }';

function expectTooDeep(result: { status: number; json: any }) {
  expect(result.status).toBe(400);
  expect(result.json.errors).toEqual([
    { message: expect.stringContaining(`more than ${MAX_JSON_DEPTH} levels deep`), extensions: { code: 'BAD_REQUEST' } },
  ]);
  expect(JSON.stringify(result.json)).not.toMatch(/call stack/i);
}

describe('deeply nested JSON', () => {
  it('answers 400 BAD_REQUEST naming the limit for variables nested 100,000 deep, declared or not, with or without a token', async () => {
    const before = unexpectedLines().length;
    const deep = nested(100_000);
    expectTooDeep(await server.post(`{"query":${JSON.stringify(FILTER_QUERY)},"variables":{"f":${deep}}}`, auth()));
    expectTooDeep(await server.post(`{"query":"query Q { __typename }","variables":{"x":${deep}}}`, auth()));
    expectTooDeep(await server.post(`{"query":"query Q { __typename }","variables":{"x":${deep}}}`));
    expectTooDeep(await server.post(`{"query":"{ __typename }","extensions":{"x":${deep}}}`));
    expectTooDeep(await server.post(`{"query":"{ __typename }","unused":${deep}}`));
    expect(unexpectedLines().length).toBe(before);
  });

  it('answers 400 for GET parameters nested too deep', async () => {
    const url = new URL(server.url);
    url.searchParams.set('query', 'query Q { __typename }');
    url.searchParams.set('variables', `{"x":${nested(20_000)}}`);
    const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true', ...auth() } });
    expectTooDeep({ status: response.status, json: await response.json() });
  });

  it('accepts a body nested exactly to the limit and refuses one level more', async () => {
    // The body object and `variables` are two levels; the rest is the variable's own nesting.
    const body = (levels: number) => `{"query":"query Q { __typename }","variables":{"x":${nested(levels - 2)}}}`;
    const atLimit = await server.post(body(MAX_JSON_DEPTH), auth());
    expect(atLimit.status, JSON.stringify(atLimit.json)).toBe(200);
    expect(atLimit.json.data).toEqual({ __typename: 'Query' });
    expectTooDeep(await server.post(body(MAX_JSON_DEPTH + 1), auth()));
  });
});

/** Sends one raw HTTP/1.1 request line and returns the whole answer. */
function rawRequest(port: number, requestLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`${requestLine}\r\nhost: localhost\r\nconnection: close\r\n\r\n`));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('the request target', () => {
  it('answers 400 to a target that is not a URL, and the server stays up', async () => {
    const answer = await rawRequest(server.port, 'GET http://[ HTTP/1.1');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"BAD_REQUEST"');
    const health = await fetch(new URL('/health', server.url));
    expect(health.status).toBe(200);
  });
});

describe('unexpected errors in request hooks', () => {
  it('are masked in production and logged with the request id, not sent as "Maximum call stack size exceeded"', async () => {
    // Apollo directly, past the HTTP layer's depth check: the cost check then meets 100,000 nested lists in a
    // request hook, as every request did before that check existed.
    const apollo = createApollo({ production: true, introspection: false, limits: DEFAULT_QUERY_LIMITS, logger, metrics: server.metrics });
    await apollo.start();
    try {
      const requestId = `hook-${randomUUID()}`;
      const contextValue = createRequestContext(server.database, { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000 }, requestId, {
        tenantId: tenant.id,
        userId: tenant.admin.id,
      });
      const response = await apollo.executeOperation({ query: FILTER_QUERY, variables: { f: JSON.parse(nested(100_000)) } }, { contextValue });
      expect(response.body.kind).toBe('single');
      const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
      expect(errors).toEqual([{ message: expect.stringMatching(/^Internal server error/), extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
      const logged = unexpectedLines().filter((line) => line.requestId === requestId);
      expect(logged).toHaveLength(1);
      expect(logged[0]!.level).toBe(50);
      expect(logged[0]!.err.message).toMatch(/call stack/i);
      expect(contextValue.transaction?.began).toBe(false);
    } finally {
      await apollo.stop();
    }
  });

  it('masks and logs a stack overflow inside a wrapped GraphQL error (the parser, with the token limit raised)', async () => {
    const lenient = await startTestServer({ production: true, introspection: false, logger, limits: { maxTokens: 1_000_000 } });
    try {
      const requestId = `parse-${randomUUID()}`;
      const literal = nested(150_000);
      const result = await lenient.post({ query: `{ conversations(first: ${literal}) { totalCount } }` }, { ...auth(), 'x-request-id': requestId });
      expect(result.json.errors).toEqual([
        { message: expect.stringMatching(/^Internal server error/), extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ]);
      expect(unexpectedLines().filter((line) => line.requestId === requestId)).toEqual([
        expect.objectContaining({ err: expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/call stack/i) }) }),
      ]);
    } finally {
      await lenient.close();
    }
  });

  it('logs the error a request hook throws with the request id (Apollo answers with an error of its own)', async () => {
    const run = async (withErrorPlugin: boolean) => {
      const requestId = `will-send-${randomUUID()}`;
      const throwing = {
        async requestDidStart() {
          return {
            async willSendResponse() {
              throw new TypeError(`hook failed in ${requestId}`);
            },
          };
        },
      };
      const apollo = new ApolloServer<RequestContext>({
        typeDefs: 'type Query { ok: Boolean }',
        resolvers: { Query: { ok: () => true } },
        formatError: loggingFormatError(logger),
        logger,
        plugins: withErrorPlugin ? [throwing, errorPlugin(logger)] : [throwing],
      });
      await apollo.start();
      try {
        // As the HTTP handler calls it: Apollo answers the hook's error itself, formatted by formatError.
        const response = await apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: {
            method: 'POST',
            headers: new HeaderMap([['content-type', 'application/json']]),
            search: '',
            body: { query: '{ ok }' },
          },
          context: async () => ({ requestId }) as RequestContext,
        });
        expect(response.status).toBe(500);
      } finally {
        await apollo.stop();
      }
      return lines.filter((line) => line.err?.message === `hook failed in ${requestId}`);
    };
    const taggedLines = await run(true);
    expect(taggedLines).toEqual([expect.objectContaining({ level: 50, requestId: expect.stringMatching(/^will-send-/) })]);
    // The negative control: without the error plugin nothing logs the original error.
    const untagged = await run(false);
    expect(untagged).toEqual([]);
  });

  it('masks and logs an error Apollo wrapped from the context factory, and keeps the code of an AppError a wrapper carries', () => {
    const formatError = loggingFormatError(logger);
    const requestId = `context-${randomUUID()}`;
    const secret = `secret detail ${randomUUID()}`;
    // What Apollo makes of a context factory that throws a plain Error (ensureGraphQLError with its prefix).
    const wrapped = new GraphQLError(`Context creation failed: ${secret}`, { originalError: new TypeError(secret) });
    // The HTTP handler's context factory tags what it throws with its request id (http-handler.ts).
    tagErrorWithRequest(wrapped.originalError, requestId);
    const seen = formatError(wrapped.toJSON(), wrapped);
    expect(seen).toEqual({ message: expect.stringMatching(/^Internal server error/), extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(JSON.stringify(seen)).not.toContain(secret);
    expect(unexpectedLines().filter((line) => line.requestId === requestId)).toEqual([
      expect.objectContaining({ err: expect.objectContaining({ type: 'TypeError', message: secret }) }),
    ]);

    // A validation wrapper around a scalar's AppError (GRAPHQL_VALIDATION_FAILED) answers the AppError's code.
    const cause = new AppError('BAD_USER_INPUT', 'DateTime must be …');
    const validation = new GraphQLError(cause.message, { originalError: cause, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    expect(formatError(validation.toJSON(), validation).extensions?.code).toBe('BAD_USER_INPUT');
  });
});
