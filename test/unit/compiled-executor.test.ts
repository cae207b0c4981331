import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { execute, GraphQLError, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../../src/errors/app-error.js';
import type { RequestContext } from '../../src/graphql/request-context.js';
import { CompiledExecutor, DEFAULT_COMPILED_EXECUTOR_LIMITS, type CompiledExecutorLimits } from '../../src/server/compiled-executor.js';
import { abuseLimits } from '../../src/server/plugins/abuse-limits.js';
import { formatError } from '../../src/server/plugins/error-plugin.js';
import { DEFAULT_QUERY_LIMITS } from '../../src/config/env.js';

// A schema with what the product's relies on: an interface resolved by __resolveType, a custom scalar's
// serialize, non-null fields whose errors bubble, an AppError and an unexpected error, arguments from variables.
const typeDefs = `
  scalar Stamp
  interface Node { id: ID! }
  type Item implements Node { id: ID! name: String! at: Stamp! broken: String! }
  type Tag implements Node { id: ID! label: String }
  type Box { item: Item! }
  type Query {
    node(id: ID!): Node
    items(first: Int!): [Item!]!
    box: Box
    refused: String
    count: Int
  }
`;
let resolved = 0;
const schema = makeExecutableSchema({
  typeDefs,
  resolvers: {
    Stamp: { __serialize: (value: unknown) => (value as Date).toISOString(), __parseValue: String, __parseLiteral: () => '' },
    Node: { __resolveType: (node: { type: string }) => node.type },
    Item: {
      broken: () => {
        throw new Error('relation "secret" does not exist');
      },
    },
    Query: {
      node: (_root: unknown, { id }: { id: string }) =>
        id.startsWith('t') ? { type: 'Tag', id, label: null } : { type: 'Item', id, name: `item ${id}` },
      items: async (_root: unknown, { first }: { first: number }) =>
        Array.from({ length: first }, (_, i) => ({ id: String(i), name: `item ${i}`, at: new Date(Date.UTC(2024, 0, 1 + i)) })),
      box: async () => ({ item: { id: 'b', name: 'boxed', at: new Date(0) } }),
      refused: () => {
        throw new BadUserInputError('expected a Tag id, received an Item id');
      },
      count: () => ++resolved,
    },
  },
});

const limits = abuseLimits(DEFAULT_QUERY_LIMITS, true);

/** Apollo with the executor's gateway, the product's error policy (formatError) and its limit plugins (field-suggestion mask included). */
async function apolloWith(executor: CompiledExecutor, plugins: ApolloServerPlugin<RequestContext>[] = []) {
  const apollo = new ApolloServer<RequestContext>({
    gateway: executor.gateway(),
    formatError,
    includeStacktraceInErrorResponses: false,
    validationRules: limits.validationRules,
    plugins: [...limits.plugins, ...plugins],
  });
  await apollo.start();
  return apollo;
}

async function run(apollo: ApolloServer<RequestContext>, query: string, variables?: Record<string, unknown>) {
  const response = await apollo.executeOperation({ query, ...(variables ? { variables } : {}) }, { contextValue: {} as RequestContext });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return { status: response.http.status, ...response.body.singleResult };
}

const withLimits = (overrides: Partial<CompiledExecutorLimits>) => ({ ...DEFAULT_COMPILED_EXECUTOR_LIMITS, ...overrides });

describe('CompiledExecutor', () => {
  it('compiles an operation once and reuses it for the same text and operation name', async () => {
    const executor = new CompiledExecutor(schema);
    const apollo = await apolloWith(executor);
    resolved = 0;
    for (let i = 0; i < 3; i++) expect((await run(apollo, '{ count }')).data).toEqual({ count: i + 1 });
    expect(executor.compilations).toBe(1);
    // Another operation of the same document is compiled on its own.
    const document = 'query A { count } query B { count items(first: 1) { id } }';
    await apollo.executeOperation({ query: document, operationName: 'A' }, { contextValue: {} as RequestContext });
    await apollo.executeOperation({ query: document, operationName: 'B' }, { contextValue: {} as RequestContext });
    await apollo.executeOperation({ query: document, operationName: 'A' }, { contextValue: {} as RequestContext });
    expect(executor.compilations).toBe(3);
    expect(executor.interpreted).toBe(0);
    await apollo.stop();
  });

  it('keeps at most maxEntries compiled operations, least recently used first out, and at most maxBytes', async () => {
    const executor = new CompiledExecutor(schema, { limits: withLimits({ maxEntries: 2 }) });
    const apollo = await apolloWith(executor);
    for (const query of ['{ count }', '{ box { item { id } } }', '{ items(first: 1) { id } }']) await run(apollo, query);
    expect(executor.entries).toBe(2);
    await run(apollo, '{ count }');
    expect(executor.compilations).toBe(4);
    await apollo.stop();

    // Each compiled operation counts 32 KiB plus 1 KiB per field: 64 KiB hold one `{ count }` (1 field), not two.
    const small = new CompiledExecutor(schema, { limits: withLimits({ maxBytes: 64 * 1024 }) });
    const apolloSmall = await apolloWith(small);
    await run(apolloSmall, '{ count }');
    await run(apolloSmall, 'query Other { count }');
    expect([small.entries, small.bytes]).toEqual([1, 33 * 1024]);
    await apolloSmall.stop();
  });

  it('answers exactly what graphql-js answers: abstract types, __typename, custom scalars, null bubbling, errors', async () => {
    const executor = new CompiledExecutor(schema);
    const documents = [
      '{ a: node(id: "1") { __typename id ... on Item { name } } b: node(id: "t1") { __typename ... on Tag { label } } }',
      'query($n: Int!) { items(first: $n) { id at } }',
      // Item.broken is non-null: its error nulls `item`, which nulls the nullable `box`.
      '{ box { item { id broken } } count }',
      '{ refused count }',
    ];
    for (const query of documents) {
      const variables = { n: 3 };
      resolved = 0;
      const expected = await execute({ schema, document: parse(query), variableValues: variables, contextValue: {} });
      resolved = 0;
      const compiled = await executor.execute({
        document: parse(query),
        operation: parse(query).definitions[0],
        operationName: null,
        queryHash: query,
        request: { query, variables },
        context: {},
        logger: console,
      } as unknown as Parameters<CompiledExecutor['execute']>[0]);
      expect(JSON.parse(JSON.stringify(compiled)), query).toEqual(JSON.parse(JSON.stringify(expected)));
    }
    expect(executor.compilations).toBe(documents.length);
  });

  it('reports resolver errors as graphql-js errors: masked when unexpected, with their path, AppErrors as they are', async () => {
    const executor = new CompiledExecutor(schema);
    const apollo = await apolloWith(executor);
    const result = await run(apollo, '{ box { item { id broken } } refused }');
    expect(result.data).toEqual({ box: null, refused: null });
    expect(result.errors).toEqual([
      expect.objectContaining({ message: 'expected a Tag id, received an Item id', path: ['refused'], extensions: { code: 'BAD_USER_INPUT' } }),
      {
        message: 'Internal server error; it has been logged with the request id.',
        path: ['box', 'item', 'broken'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      },
    ]);
    expect(JSON.stringify(result)).not.toMatch(/secret/);
    // graphql-armor's suggestion mask rewrites `message` of every error; graphql-jit's own errors refuse that.
    const raw = await executor.execute({
      document: parse('{ refused }'),
      operation: parse('{ refused }').definitions[0],
      operationName: null,
      queryHash: 'raw',
      request: {},
      context: {},
      logger: console,
    } as unknown as Parameters<CompiledExecutor['execute']>[0]);
    expect(raw.errors?.[0]?.constructor).toBe(GraphQLError);
    await apollo.stop();
  });

  it('answers a bad variable as graphql-js does: BAD_USER_INPUT, 400, the variable named', async () => {
    const executor = new CompiledExecutor(schema);
    const apollo = await apolloWith(executor);
    const result = await run(apollo, 'query($n: Int!) { items(first: $n) { id } }', { n: 'many' });
    expect(result.status).toBe(400);
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/^Variable "\$n" got invalid value "many"/),
        extensions: { code: 'BAD_USER_INPUT', field: 'n' },
      }),
    ]);
    await apollo.stop();
  });

  it('answers an unknown operation name as graphql-js does: 400, nothing compiled', async () => {
    const executor = new CompiledExecutor(schema);
    const apollo = await apolloWith(executor);
    const response = await apollo.executeOperation({ query: 'query A { count }', operationName: 'B' }, { contextValue: {} as RequestContext });
    expect(response.http.status).toBe(400);
    expect(response.body.kind === 'single' && response.body.singleResult.errors?.[0]?.message).toBe('Unknown operation named "B".');
    expect(executor.compilations).toBe(0);
    await apollo.stop();
  });

  it('runs every Apollo request and execution hook around the compiled operation', async () => {
    const seen: string[] = [];
    const recorder: ApolloServerPlugin<RequestContext> = {
      async requestDidStart() {
        return {
          async didResolveOperation() {
            seen.push('didResolveOperation');
          },
          async executionDidStart() {
            seen.push('executionDidStart');
            return {
              async executionDidEnd() {
                seen.push('executionDidEnd');
              },
            };
          },
          async didEncounterErrors() {
            seen.push('didEncounterErrors');
          },
          async willSendResponse() {
            seen.push('willSendResponse');
          },
        };
      },
    };
    const executor = new CompiledExecutor(schema);
    const apollo = await apolloWith(executor, [recorder]);
    await run(apollo, '{ refused }');
    // Apollo's order with graphql-js too: the result's errors are reported before execution ends.
    expect(seen).toEqual(['didResolveOperation', 'executionDidStart', 'didEncounterErrors', 'executionDidEnd', 'willSendResponse']);
    expect(executor.compilations).toBe(1);
    await apollo.stop();
  });

  it('leaves operations over maxFields to graphql-js, with the same answer, and compiles none of them', async () => {
    const executor = new CompiledExecutor(schema, { limits: withLimits({ maxFields: 3 }) });
    const apollo = await apolloWith(executor);
    // 4 fields: box, item, id, name.
    for (let i = 0; i < 2; i++)
      expect((await run(apollo, '{ box { item { id name } } }')).data).toEqual({ box: { item: { id: 'b', name: 'boxed' } } });
    expect([executor.compilations, executor.interpreted, executor.entries]).toEqual([0, 2, 0]);
    await run(apollo, '{ box { item { id } } }');
    expect(executor.compilations).toBe(1);
    await apollo.stop();
  });

  it('compiles nothing while its compile budget is spent, and again once it has refilled', async () => {
    let now = 0;
    // Every compilation costs 10 ms of the fake clock: the burst of 15 ms allows two in a row.
    const executor = new CompiledExecutor(schema, {
      limits: withLimits({ compileMsPerSecond: 10, compileBurstMs: 15 }),
      now: () => (now += 10) - 10,
    });
    const apollo = await apolloWith(executor);
    for (const query of ['query A { count }', 'query B { count }', 'query C { count }']) await run(apollo, query);
    expect([executor.compilations, executor.interpreted]).toEqual([2, 1]);
    now += 10_000;
    await run(apollo, 'query C { count }');
    expect([executor.compilations, executor.interpreted]).toEqual([3, 1]);
    await apollo.stop();
  });
});
