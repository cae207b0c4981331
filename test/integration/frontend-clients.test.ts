import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, gql as apolloGql, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { relayStylePagination } from '@apollo/client/utilities';
import { CombinedError, cacheExchange, createClient as createUrqlClient, fetchExchange, subscriptionExchange } from '@urql/core';
import { OperationTypeNode } from 'graphql';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CreateConversationDocument, MessagePostedDocument, PostMessageDocument, type MessagePostedSubscription } from '../../src/sdk/index.js';
import { REPOSITORY_ROOT } from '../support/processes.js';
import type { ServerOptions } from '../../src/server/create-server.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

/**
 * The README's "Using it from a frontend", followed literally with the real client libraries (Apollo Client 4,
 * urql's core client, graphql-request 7), against a development server and a production-configured one. Each
 * client is configured exactly as the README's snippet says; `the README shows this configuration` below fails
 * when a snippet changes and this file does not.
 */

const APP_ORIGIN = 'https://app.example.test';

const VIEWER = `query Viewer { viewer { user { id displayName } tenant { id name } } }`;
const CONVERSATIONS = `query Conversations($first: Int, $after: String) {
  conversations(first: $first, after: $after) {
    edges { cursor node { id title } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const CREATE_CONVERSATION = `mutation CreateConversation($title: String!) {
  createConversation(input: { title: $title }) { conversation { id title } }
}`;
const POST_MESSAGE = `mutation Post($conversationId: ID!) {
  postMessage(input: { conversationId: $conversationId, body: "Hello" }) { message { id createdAt } }
}`;

interface ViewerData {
  viewer: { user: { id: string; displayName: string }; tenant: { id: string; name: string } };
}
interface ConversationsData {
  conversations: {
    edges: { cursor: string; node: { id: string; title: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  };
}
interface CreateConversationData {
  createConversation: { conversation: { id: string; title: string } };
}

/** The README's Apollo Client setup: the token from a variable read per request, relay-style lists. */
function apolloClientFor(url: string, tokenOf: () => string) {
  return new ApolloClient({
    link: new SetContextLink(() => ({ headers: { authorization: `Bearer ${tokenOf()}` } })).concat(new HttpLink({ uri: url })),
    cache: apolloCache(),
  });
}

/** The README's urql setup: POST with JSON (`preferGetMethod: false`). */
function urqlClientFor(url: string, token: string) {
  return createUrqlClient({
    url,
    preferGetMethod: false,
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  });
}

/** The README's alternative: keep urql's GET queries and add the preflight header. */
function urqlGetClientFor(url: string, token: string) {
  return createUrqlClient({
    url,
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}`, 'apollo-require-preflight': 'true' } }),
  });
}

/** urql with nothing configured but the token: what the README warns about. */
function urqlDefaultClientFor(url: string, token: string) {
  return createUrqlClient({
    url,
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  });
}

/** The README's graphql-request setup. */
function graphqlRequestClientFor(url: string, token: string) {
  return new GraphQLClient(url, { headers: { authorization: `Bearer ${token}` } });
}

// The README's line for Node 20, which has no global WebSocket (browsers and Node 22 do): graphql-ws uses the
// global one, and so does Apollo Client's GraphQLWsLink when it reports an error (`WebSocket.CLOSED`,
// apollographql/apollo-client#11761), which graphql-ws' `webSocketImpl` option does not cover.
if (!('WebSocket' in globalThis)) Object.assign(globalThis, { WebSocket });

/**
 * The README's graphql-ws client for subscriptions: the socket URL is the HTTP one with `ws:`, the token goes in
 * the `connection_init` payload, read when the socket (re)connects, and a 4403 (not a member) is not retried.
 * `defaultRetries` is this file's negative control: graphql-ws' own retry rule, which retries 4403.
 */
function wsClientFor(url: string, tokenOf: () => string, { defaultRetries = false } = {}): WsClient {
  return createWsClient({
    url: url.replace(/^http/, 'ws'),
    connectionParams: () => ({ Authorization: `Bearer ${tokenOf()}` }),
    ...(defaultRetries ? {} : { shouldRetry: (closed: unknown) => (closed as { code?: number }).code !== 4403 }),
  });
}

/**
 * graphql-ws' `dispose()` awaits the client's last connection attempt and rethrows its close event when that
 * attempt was refused (the 4403 its subscribers already received): that socket is closed, nothing is left to end.
 */
async function disposeWsClient(wsClient: WsClient): Promise<void> {
  try {
    await wsClient.dispose();
  } catch (error) {
    if (typeof (error as { code?: unknown } | null)?.code !== 'number') throw error;
  }
}

/** What one subscription delivered, as a component would see it: the events in order, and the error codes. */
interface Watched {
  readonly events: MessagePostedSubscription[];
  /** `extensions.code` of GraphQL errors; `close <code>` when the socket closed for good. */
  readonly errorCodes: unknown[];
  stop(): void;
}

/** One signed-in frontend: a client of one library that subscribes to messagePosted of a conversation. */
interface RealtimeFrontend {
  readonly wsClient: WsClient;
  watchMessages(conversationId: string): Watched;
  dispose(): Promise<void>;
}

/** The README's Apollo Client cache (relay-style lists). */
function apolloCache() {
  return new InMemoryCache({
    typePolicies: {
      Query: { fields: { conversations: relayStylePagination(['filter']), users: relayStylePagination() } },
      Conversation: { fields: { messages: relayStylePagination() } },
    },
  });
}

/** The README's Apollo Client with subscriptions: a split link sends them over GraphQLWsLink, the rest over HTTP. */
function apolloRealtimeFrontend(
  url: string,
  tokenOf: () => string,
  wsClient = wsClientFor(url, tokenOf),
): RealtimeFrontend & { client: ApolloClient } {
  const http = new SetContextLink(() => ({ headers: { authorization: `Bearer ${tokenOf()}` } })).concat(new HttpLink({ uri: url }));
  const client = new ApolloClient({
    link: ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, new GraphQLWsLink(wsClient), http),
    cache: apolloCache(),
  });
  // GraphQLWsLink reports a final close as an Error "Socket closed with event <code> <reason>".
  const codeOf = (error: Error) =>
    CombinedGraphQLErrors.is(error)
      ? error.errors[0]?.extensions?.code
      : `close ${/Socket closed with event (\d+)/.exec(error.message)?.[1] ?? error.message}`;
  return {
    client,
    wsClient,
    watchMessages(conversationId) {
      const events: MessagePostedSubscription[] = [];
      const errorCodes: unknown[] = [];
      const subscription = client.subscribe({ query: MessagePostedDocument, variables: { conversationId } }).subscribe({
        next: ({ data, error }) => {
          if (data) events.push(data);
          if (error) errorCodes.push(codeOf(error));
        },
        error: (error: Error) => errorCodes.push(codeOf(error)),
      });
      return { events, errorCodes, stop: () => subscription.unsubscribe() };
    },
    dispose: async () => {
      client.stop();
      await disposeWsClient(wsClient);
    },
  };
}

/** The README's urql client with subscriptions: `subscriptionExchange` forwards them to the graphql-ws client. */
function urqlRealtimeFrontend(url: string, tokenOf: () => string, wsClient = wsClientFor(url, tokenOf)): RealtimeFrontend {
  const token = tokenOf();
  const client = createUrqlClient({
    url,
    preferGetMethod: false,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink) }) };
        },
      }),
    ],
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  });
  return {
    wsClient,
    watchMessages(conversationId) {
      const events: MessagePostedSubscription[] = [];
      const errorCodes: unknown[] = [];
      const subscription = client.subscription(MessagePostedDocument, { conversationId }).subscribe((result) => {
        if (result.data) events.push(result.data);
        // A final close reaches urql as the network error: the close event itself.
        if (result.error)
          errorCodes.push(
            result.error.graphQLErrors[0]?.extensions.code ?? `close ${(result.error.networkError as { code?: number } | undefined)?.code}`,
          );
      });
      return { events, errorCodes, stop: () => subscription.unsubscribe() };
    },
    dispose: () => disposeWsClient(wsClient),
  };
}

const SERVERS: { name: string; options: Partial<ServerOptions> }[] = [
  { name: 'a development server', options: {} },
  { name: 'a production-configured server', options: { production: true, introspection: false, corsOrigins: [APP_ORIGIN] } },
];

describe.each(SERVERS)('frontend clients against $name', ({ options }) => {
  let server: TestServer;
  let tenantA: TestTenant;
  let tenantB: TestTenant;
  /** A conversation of tenant B: to tenant A its id is NOT_FOUND. */
  let foreignConversationId: string;
  beforeAll(async () => {
    [server, tenantA, tenantB] = await Promise.all([startTestServer(options), createTestTenant(), createTestTenant()]);
    const created = await server.post(
      { query: CREATE_CONVERSATION, variables: { title: 'B only' } },
      { authorization: `Bearer ${tenantB.admin.token}` },
    );
    foreignConversationId = (created.json.data as CreateConversationData).createConversation.conversation.id;
  });
  afterAll(async () => {
    await server?.close();
  });

  describe('Apollo Client', () => {
    it('reads the viewer, creates conversations, pages them with fetchMore and relayStylePagination', async () => {
      const tenant = await createTestTenant();
      const client = apolloClientFor(server.url, () => tenant.admin.token);
      const viewer = await client.query<ViewerData>({ query: apolloGql(VIEWER) });
      expect(viewer.data?.viewer.tenant.name).toBe(tenant.name);

      for (const title of ['one', 'two', 'three']) {
        const created = await client.mutate<CreateConversationData>({ mutation: apolloGql(CREATE_CONVERSATION), variables: { title } });
        expect(created.data?.createConversation.conversation.title).toBe(title);
      }
      const query = apolloGql(CONVERSATIONS);
      const list = client.watchQuery<ConversationsData>({ query, variables: { first: 2 } });
      // A component on screen: subscribed while the next page is fetched.
      const onScreen = list.subscribe(() => {});
      const first = { data: (await firstValueFrom(list.pipe(filter((result) => result.dataState === 'complete')))).data as ConversationsData };
      expect(first.data.conversations.edges.map((edge) => edge.node.title)).toEqual(['three', 'two']);
      expect(first.data.conversations.pageInfo.hasNextPage).toBe(true);
      const more = await list.fetchMore({ variables: { after: first.data.conversations.pageInfo.endCursor } });
      expect(more.data?.conversations.edges.map((edge) => edge.node.title)).toEqual(['one']);
      // relayStylePagination appended the second page to the cached list the screen shows.
      const shown = client.readQuery<ConversationsData>({ query, variables: { first: 2 } });
      expect(shown?.conversations.edges.map((edge) => edge.node.title)).toEqual(['three', 'two', 'one']);
      expect(shown?.conversations.pageInfo.hasNextPage).toBe(false);
      onScreen.unsubscribe();
    });

    it("surfaces extensions.code: NOT_FOUND for another tenant's conversation, UNAUTHENTICATED (401) for a bad token", async () => {
      const client = apolloClientFor(server.url, () => tenantA.admin.token);
      const notFound = await client
        .mutate({ mutation: apolloGql(POST_MESSAGE), variables: { conversationId: foreignConversationId } })
        .catch((error: unknown) => error);
      expect(CombinedGraphQLErrors.is(notFound)).toBe(true);
      expect((notFound as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('NOT_FOUND');

      const anonymous = apolloClientFor(server.url, () => 'not-a-token');
      const refused = await anonymous.query({ query: apolloGql(VIEWER) }).catch((error: unknown) => error);
      // The 401 body is application/graphql-response+json, so Apollo Client reads its errors instead of a bare ServerError.
      expect(CombinedGraphQLErrors.is(refused)).toBe(true);
      expect((refused as CombinedGraphQLErrors).errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    it("shows the first tenant's cached viewer after a token switch unless clearStore() runs", async () => {
      let token = tenantA.admin.token;
      const client = apolloClientFor(server.url, () => token);
      const query = apolloGql(VIEWER);
      expect((await client.query<ViewerData>({ query })).data?.viewer.tenant.name).toBe(tenantA.name);

      token = tenantB.admin.token;
      // Negative control: cache-first answers from the cache, and the cached root field does not name the tenant.
      expect((await client.query<ViewerData>({ query })).data?.viewer.tenant.name).toBe(tenantA.name);

      await client.clearStore();
      expect((await client.query<ViewerData>({ query })).data?.viewer.tenant.name).toBe(tenantB.name);
    });
  });

  describe('urql', () => {
    it('with its defaults (GET queries without a content-type) is refused by CSRF prevention: 400', async () => {
      const result = await urqlDefaultClientFor(server.url, tenantA.admin.token).query<ViewerData>(VIEWER, {}).toPromise();
      expect(result.data).toBeUndefined();
      expect(result.error).toBeInstanceOf(CombinedError);
      expect((result.error?.response as Response | undefined)?.status).toBe(400);
      expect(result.error?.message).toContain('Cross-Site Request Forgery');
    });

    it('with preferGetMethod: false reads the viewer, creates and pages conversations', async () => {
      const tenant = await createTestTenant();
      const client = urqlClientFor(server.url, tenant.admin.token);
      const viewer = await client.query<ViewerData>(VIEWER, {}).toPromise();
      expect(viewer.error).toBeUndefined();
      expect(viewer.data?.viewer.tenant.name).toBe(tenant.name);

      for (const title of ['one', 'two', 'three']) {
        const created = await client.mutation<CreateConversationData>(CREATE_CONVERSATION, { title }).toPromise();
        expect(created.data?.createConversation.conversation.title).toBe(title);
      }
      const first = await client.query<ConversationsData>(CONVERSATIONS, { first: 2 }).toPromise();
      expect(first.data?.conversations.edges.map((edge) => edge.node.title)).toEqual(['three', 'two']);
      const second = await client
        .query<ConversationsData>(CONVERSATIONS, { first: 2, after: first.data!.conversations.pageInfo.endCursor })
        .toPromise();
      expect(second.data?.conversations.edges.map((edge) => edge.node.title)).toEqual(['one']);
      expect(second.data?.conversations.pageInfo.hasNextPage).toBe(false);
    });

    it('keeps GET queries when the preflight header is set', async () => {
      const result = await urqlGetClientFor(server.url, tenantA.admin.token).query<ViewerData>(VIEWER, {}).toPromise();
      expect(result.error).toBeUndefined();
      // The same GET the default client sends, which CSRF prevention refused above, passes with the header alone.
      expect(result.data?.viewer.tenant.name).toBe(tenantA.name);
    });

    it('answers from its document cache after a token switch; a new client reads the second tenant', async () => {
      let token = tenantA.admin.token;
      const makeClient = () =>
        createUrqlClient({
          url: server.url,
          preferGetMethod: false,
          exchanges: [cacheExchange, fetchExchange],
          fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
        });
      const client = makeClient();
      expect((await client.query<ViewerData>(VIEWER, {}).toPromise()).data?.viewer.tenant.name).toBe(tenantA.name);
      token = tenantB.admin.token;
      // Negative control: urql's cacheExchange keys results by document and variables, which do not name the tenant.
      expect((await client.query<ViewerData>(VIEWER, {}).toPromise()).data?.viewer.tenant.name).toBe(tenantA.name);
      expect((await makeClient().query<ViewerData>(VIEWER, {}).toPromise()).data?.viewer.tenant.name).toBe(tenantB.name);
    });

    it('surfaces extensions.code through CombinedError: NOT_FOUND, and UNAUTHENTICATED with status 401', async () => {
      const notFound = await urqlClientFor(server.url, tenantA.admin.token)
        .mutation(POST_MESSAGE, { conversationId: foreignConversationId })
        .toPromise();
      expect(notFound.error).toBeInstanceOf(CombinedError);
      expect(notFound.error?.graphQLErrors[0]?.extensions.code).toBe('NOT_FOUND');

      const refused = await urqlClientFor(server.url, 'not-a-token').query(VIEWER, {}).toPromise();
      expect(refused.error?.graphQLErrors[0]?.extensions.code).toBe('UNAUTHENTICATED');
      expect((refused.error?.response as Response | undefined)?.status).toBe(401);
    });
  });

  describe('graphql-request', () => {
    it('reads the viewer, creates and pages conversations', async () => {
      const tenant = await createTestTenant();
      const client = graphqlRequestClientFor(server.url, tenant.admin.token);
      expect((await client.request<ViewerData>(VIEWER)).viewer.tenant.name).toBe(tenant.name);
      for (const title of ['one', 'two', 'three']) {
        const created = await client.request<CreateConversationData>(CREATE_CONVERSATION, { title });
        expect(created.createConversation.conversation.title).toBe(title);
      }
      const first = await client.request<ConversationsData>(CONVERSATIONS, { first: 2 });
      expect(first.conversations.edges.map((edge) => edge.node.title)).toEqual(['three', 'two']);
      const second = await client.request<ConversationsData>(CONVERSATIONS, { first: 2, after: first.conversations.pageInfo.endCursor });
      expect(second.conversations.edges.map((edge) => edge.node.title)).toEqual(['one']);
    });

    it('surfaces extensions.code through ClientError: NOT_FOUND, and UNAUTHENTICATED with status 401', async () => {
      const notFound = await graphqlRequestClientFor(server.url, tenantA.admin.token)
        .request(POST_MESSAGE, { conversationId: foreignConversationId })
        .catch((error: unknown) => error);
      expect(notFound).toBeInstanceOf(ClientError);
      expect((notFound as ClientError).response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      const refused = await graphqlRequestClientFor(server.url, 'not-a-token')
        .request(VIEWER)
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ClientError);
      expect((refused as ClientError).response.status).toBe(401);
      expect((refused as ClientError).response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  describe.each([
    { library: 'Apollo Client (GraphQLWsLink behind a split link)', frontendFor: apolloRealtimeFrontend },
    { library: 'urql (subscriptionExchange with graphql-ws)', frontendFor: urqlRealtimeFrontend },
  ])('subscriptions with $library', ({ frontendFor }) => {
    it("receives tenant A's message live; tenant B's subscriber gets none of it, and A's conversation id is NOT_FOUND to B", async () => {
      const [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
      const conversationOf = async (tenant: TestTenant, title: string) => {
        const { data } = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title } });
        return data!.createConversation.conversation.id;
      };
      const postAs = async (tenant: TestTenant, conversationId: string, body: string) => {
        const { errors } = await server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId, body } });
        expect(errors).toBeUndefined();
      };
      const [conversationA, conversationB] = await Promise.all([conversationOf(a, 'A live'), conversationOf(b, 'B live')]);
      const frontendA = frontendFor(server.url, () => a.admin.token);
      const frontendB = frontendFor(server.url, () => b.admin.token);
      try {
        const ownA = frontendA.watchMessages(conversationA);
        const ownB = frontendB.watchMessages(conversationB);
        // B's own socket, a second subscription: another tenant's conversation looks like none at all.
        const probe = frontendB.watchMessages(conversationA);
        await vi.waitFor(() => expect(probe.errorCodes).toEqual(['NOT_FOUND']), { timeout: 10_000 });
        // Posted once both subscriptions run (a subscription starts at the stream's head).
        await vi.waitFor(() => expect([server.realtime.subscriptionsOf(a.id), server.realtime.subscriptionsOf(b.id)]).toEqual([1, 1]), {
          timeout: 10_000,
        });

        await postAs(a, conversationA, 'for A only');
        await vi.waitFor(() => expect(ownA.events.map((event) => event.messagePosted.message.body)).toEqual(['for A only']), { timeout: 10_000 });
        const [delivered] = ownA.events;
        // The SDK's typed document: the payload is a Message resolved as a query would resolve it.
        expect(delivered!.messagePosted.message.conversation.id).toBe(conversationA);
        expect(delivered!.messagePosted.message.author.displayName).toBeTruthy();
        expect(delivered!.messagePosted.cursor).toEqual(expect.any(String));

        // A later B-only message reaches B: had A's message been sent to B, it would have arrived before it.
        await postAs(b, conversationB, 'for B only');
        await vi.waitFor(() => expect(ownB.events.map((event) => event.messagePosted.message.body)).toEqual(['for B only']), { timeout: 10_000 });
        expect(probe.events).toEqual([]);
        expect([ownA.errorCodes, ownB.errorCodes]).toEqual([[], []]);
        for (const watched of [ownA, ownB, probe]) watched.stop();
      } finally {
        await Promise.all([frontendA.dispose(), frontendB.dispose()]);
      }
    });

    it("gives up at once when the socket is refused with 4403 (the token's user is not a member); graphql-ws' default retries it", async () => {
      const tenant = await createTestTenant();
      const { data } = await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'members only' } });
      const conversationId = data!.createConversation.conversation.id;
      const outsider = await tokenFor(tenant.id, randomUUID());
      const connectsOf = (frontend: RealtimeFrontend) => {
        let connects = 0;
        frontend.wsClient.on('connecting', () => connects++);
        return () => connects;
      };

      const frontend = frontendFor(server.url, () => outsider);
      const connects = connectsOf(frontend);
      const refused = frontend.watchMessages(conversationId);
      await vi.waitFor(() => expect(refused.errorCodes).toEqual(['close 4403']), { timeout: 10_000 });
      // The subscriber learns it after the first refusal: no retry came before.
      expect(connects()).toBe(1);

      // Negative control: with graphql-ws' own retry rule the same refusal is retried (after a back-off of 1 to 4 s),
      // and the subscriber hears nothing meanwhile.
      const retrying = frontendFor(
        server.url,
        () => outsider,
        wsClientFor(server.url, () => outsider, { defaultRetries: true }),
      );
      const retries = connectsOf(retrying);
      const waiting = retrying.watchMessages(conversationId);
      try {
        await vi.waitFor(() => expect(retries()).toBe(2), { timeout: 15_000 });
        expect(waiting.errorCodes).toEqual([]);
      } finally {
        await Promise.all([frontend.dispose(), retrying.dispose()]);
      }
    }, 30_000);
  });

  describe('subscriptions with Apollo Client across a tenant switch', () => {
    it('keep the first tenant on the open socket until wsClient.terminate() reconnects it with the new token', async () => {
      const [a, b] = await Promise.all([createTestTenant(), createTestTenant()]);
      const conversationOf = async (tenant: TestTenant) =>
        (await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: 'switch' } })).data!.createConversation
          .conversation.id;
      const [conversationA, conversationB] = await Promise.all([conversationOf(a), conversationOf(b)]);
      let token = a.admin.token;
      const frontend = apolloRealtimeFrontend(server.url, () => token);
      try {
        const first = frontend.watchMessages(conversationA);
        await vi.waitFor(() => expect(server.realtime.subscriptionsOf(a.id)).toBe(1), { timeout: 10_000 });

        // The README's switch for HTTP alone: the socket still speaks for tenant A, so B's conversation is NOT_FOUND on it.
        token = b.admin.token;
        await frontend.client.clearStore();
        const stale = frontend.watchMessages(conversationB);
        await vi.waitFor(() => expect(stale.errorCodes).toEqual(['NOT_FOUND']), { timeout: 10_000 });
        expect(server.realtime.subscriptionsOf(a.id)).toBe(1);

        // With terminate(), graphql-ws reconnects with connectionParams read again: the new token. It resubscribes what
        // is still subscribed: A's conversation, which tenant B does not have.
        frontend.wsClient.terminate();
        const fresh = frontend.watchMessages(conversationB);
        await vi.waitFor(() => expect([server.realtime.subscriptionsOf(a.id), server.realtime.subscriptionsOf(b.id)]).toEqual([0, 1]), {
          timeout: 15_000,
        });
        expect(first.errorCodes).toEqual(['NOT_FOUND']);
        const { errors } = await server
          .client(b.admin.token)
          .request(PostMessageDocument, { input: { conversationId: conversationB, body: 'after the switch' } });
        expect(errors).toBeUndefined();
        await vi.waitFor(() => expect(fresh.events.map((event) => event.messagePosted.message.body)).toEqual(['after the switch']), {
          timeout: 10_000,
        });
        expect(first.events).toEqual([]);
      } finally {
        await frontend.dispose();
      }
    }, 30_000);
  });
});

describe('CORS of the production-configured server, as a browser preflight meets it', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ production: true, introspection: false, corsOrigins: [APP_ORIGIN] });
  });
  afterAll(async () => {
    await server?.close();
  });

  const preflight = (origin: string) =>
    fetch(server.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });

  it('allows the origin CORS_ORIGINS lists and no other, not even a local development origin', async () => {
    const listed = await preflight(APP_ORIGIN);
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(listed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    for (const other of ['https://evil.example.test', 'http://localhost:5173']) {
      expect((await preflight(other)).headers.get('access-control-allow-origin')).toBeNull();
    }
  });
});

describe('the README', () => {
  it('shows this configuration for each client', async () => {
    const readme = await readFile(path.join(REPOSITORY_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Using it from a frontend'),
      readme.indexOf('\n## ', readme.indexOf('## Using it from a frontend') + 1),
    );
    for (const snippet of [
      'new SetContextLink(() => ({ headers: { authorization: `Bearer ${token}` } })).concat(new HttpLink({ uri: url }))',
      'await client.clearStore();',
      "Query: { fields: { conversations: relayStylePagination(['filter']), users: relayStylePagination() } }",
      'Conversation: { fields: { messages: relayStylePagination() } }',
      'preferGetMethod: false,',
      'exchanges: [cacheExchange, fetchExchange],',
      'fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),',
      "'apollo-require-preflight': 'true'",
      'new GraphQLClient(url, { headers: { authorization: `Bearer ${token}` } })',
      // Subscriptions.
      "url: url.replace(/^http/, 'ws'),",
      'connectionParams: () => ({ Authorization: `Bearer ${token}` }),',
      'shouldRetry: (closed: unknown) => (closed as { code?: number }).code !== 4403,',
      'const http = new SetContextLink(() => ({ headers: { authorization: `Bearer ${token}` } })).concat(new HttpLink({ uri: url }));',
      'link: ApolloLink.split(({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION, new GraphQLWsLink(wsClient), http),',
      'client.subscribe({ query: MessagePostedDocument, variables: { conversationId } })',
      'wsClient.terminate();',
      'subscriptionExchange({',
      "const input = { ...request, query: request.query || '' };",
      'return { subscribe: (sink) => ({ unsubscribe: wsClient.subscribe(input, sink) }) };',
      'client.subscription(MessagePostedDocument, { conversationId })',
      "if (!('WebSocket' in globalThis)) Object.assign(globalThis, { WebSocket });",
      'createGraphiQLFetcher({ url, subscriptionUrl })',
    ]) {
      expect(section, snippet).toContain(snippet);
    }
  });
});
