import { createClient, type Client } from 'graphql-ws';
import { inject } from 'vitest';
import WebSocket from 'ws';
import type { TestServer } from './server.js';

/** What one subscription received. */
export interface Subscription {
  readonly data: any[];
  readonly errors: any[];
  completed: boolean;
  /** Resolves once `count` results arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<any[]>;
  /** Resolves when the subscription errored or completed. */
  readonly ended: Promise<void>;
  dispose(): void;
}

export interface TestSocket {
  readonly client: Client;
  /** The close event of the socket, once it closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves when the server acknowledged connection_init. */
  readonly connected: Promise<void>;
  subscribe(query: string, variables?: Record<string, unknown>): Subscription;
  close(): Promise<void>;
}

/** The ws:// URL of a test server's GraphQL endpoint. */
export function socketUrl(server: Pick<TestServer, 'url'>): string {
  return server.url.replace(/^http/, 'ws');
}

/**
 * A real graphql-ws client (the library browsers use) on a real socket: not lazy, no retries, so a refusal or a
 * server close is observed as it is.
 */
export function openSocket(server: Pick<TestServer, 'url'>, connectionParams: Record<string, unknown> | undefined): TestSocket {
  let resolveClosed!: (event: { code: number; reason: string }) => void;
  let resolveConnected!: () => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  const connected = new Promise<void>((resolve) => (resolveConnected = resolve));
  const client = createClient({
    url: socketUrl(server),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    ...(connectionParams ? { connectionParams } : {}),
    onNonLazyError: () => {},
    on: {
      connected: () => resolveConnected(),
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string | Buffer };
        resolveClosed({ code, reason: String(reason) });
      },
    },
  });
  return {
    client,
    closed,
    connected,
    subscribe(query, variables = {}) {
      const data: any[] = [];
      const errors: any[] = [];
      const waiters: { count: number; resolve: (value: any[]) => void }[] = [];
      let resolveEnded!: () => void;
      const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
      const subscription: Subscription = {
        data,
        errors,
        completed: false,
        ended,
        waitFor(count, timeoutMs = 10_000) {
          if (data.length >= count) return Promise.resolve(data);
          return new Promise((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`expected ${count} results, received ${data.length}; errors: ${JSON.stringify(errors)}`)),
              timeoutMs,
            );
            waiters.push({
              count,
              resolve: (value) => {
                clearTimeout(timer);
                resolve(value);
              },
            });
          });
        },
        dispose: () => unsubscribe(),
      };
      const unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (result) => {
            if (result.errors) errors.push(...result.errors);
            if (result.data) data.push(result.data);
            for (const waiter of waiters.filter((w) => data.length >= w.count)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(data);
            }
          },
          error: (error) => {
            if (Array.isArray(error)) errors.push(...error);
            else errors.push(error);
            resolveEnded();
          },
          complete: () => {
            subscription.completed = true;
            resolveEnded();
          },
        },
      );
      return subscription;
    },
    async close() {
      await client.dispose();
    },
  };
}

/** connection_init payload with a bearer token, as Apollo Client and Sandbox send it. */
export function bearer(token: string): Record<string, unknown> {
  return { Authorization: `Bearer ${token}` };
}

/**
 * The app role's login straight to PostgreSQL, never through PgBouncer: what REALTIME_LISTEN_DATABASE_URL is for.
 * (In the PgBouncer run, the app URL points at PgBouncer; the owner URL at the server.)
 */
export function directAppUrl(): string {
  const app = new URL(inject('appUrl'));
  const owner = new URL(inject('ownerUrl'));
  app.host = owner.host;
  return app.toString();
}

/** Resolves when `check` holds, polling every 20 ms; rejects after `timeoutMs` with `what`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** One GraphQL request over HTTP as `token`; throws on any error. */
export async function gql(server: Pick<TestServer, 'post'>, token: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const { json } = await server.post({ query, variables }, { authorization: `Bearer ${token}` });
  if (json.errors) throw new Error(JSON.stringify(json.errors));
  return json.data;
}

export async function createConversation(server: Pick<TestServer, 'post'>, token: string, title = 'realtime'): Promise<string> {
  const data = await gql(server, token, 'mutation($t: String!) { createConversation(input: { title: $t }) { conversation { id } } }', { t: title });
  return data.createConversation.conversation.id;
}

export async function postMessage(server: Pick<TestServer, 'post'>, token: string, conversationId: string, body: string): Promise<string> {
  const data = await gql(
    server,
    token,
    'mutation($id: ID!, $b: String!) { postMessage(input: { conversationId: $id, body: $b }) { message { id } } }',
    {
      id: conversationId,
      b: body,
    },
  );
  return data.postMessage.message.id;
}

export const MESSAGE_POSTED = `subscription($id: ID!, $after: String) {
  messagePosted(conversationId: $id, after: $after) { cursor message { id body author { id } conversation { id } } }
}`;
export const CONVERSATION_CHANGED = `subscription($after: String) {
  conversationChanged(after: $after) { cursor kind conversationId conversation { id title } }
}`;
