/**
 * Where the page finds the API and its token: the query string, `?api=<GraphQL URL>&token=<JWT>` (and optionally
 * `&conversation=<Conversation id>`), e.g. `http://127.0.0.1:4173/?api=http://127.0.0.1:4000/graphql&token=eyJ…`.
 * A token in an address leaks into the browser's history and into access logs, so the page keeps it in this
 * tab's sessionStorage and removes it from the address bar at once; a reload of the tab still finds it. A real
 * app gets its token from its sign-in flow instead.
 */
export interface Settings {
  /** The HTTP GraphQL endpoint (queries and mutations). */
  readonly httpUrl: string;
  /** The same endpoint over WebSocket (subscriptions, graphql-ws): same host, port and path. */
  readonly wsUrl: string;
  readonly token: string | null;
  /** The conversation to open first, if the address names one. */
  readonly conversationId: string | null;
}

const DEFAULT_API = 'http://localhost:4000/graphql';
const TOKEN_KEY = 'tenantgraph-chat-token';

export function readSettings(location: Location, storage: Storage, history: History): Settings {
  const params = new URLSearchParams(location.search);
  const api = params.get('api') ?? DEFAULT_API;
  const fromAddress = params.get('token');
  if (fromAddress) {
    storage.setItem(TOKEN_KEY, fromAddress);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', `${location.pathname}${rest ? `?${rest}` : ''}${location.hash}`);
  }
  const httpUrl = new URL(api, location.href);
  if (httpUrl.protocol !== 'http:' && httpUrl.protocol !== 'https:') {
    throw new Error(`The api parameter must be an http(s) URL of the GraphQL endpoint, received "${api}".`);
  }
  const wsUrl = new URL(httpUrl);
  wsUrl.protocol = httpUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    httpUrl: httpUrl.href,
    wsUrl: wsUrl.href,
    token: storage.getItem(TOKEN_KEY),
    conversationId: params.get('conversation'),
  };
}

/** Remembers the open conversation in the address (without the token), so a reload reopens it. */
export function rememberConversation(location: Location, history: History, conversationId: string): void {
  const params = new URLSearchParams(location.search);
  params.set('conversation', conversationId);
  history.replaceState(null, '', `${location.pathname}?${params.toString()}${location.hash}`);
}
