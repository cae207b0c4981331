import { parse, type DocumentNode } from 'graphql';
import type { ErrorCode } from '../../errors/app-error.js';
import { isIntrospectionOnly } from '../plugins/authentication-plugin.js';
import { normaliseDocumentId, type TrustedDocuments } from './trusted-documents.js';

export interface TrustedRequestGateOptions {
  /** Whether introspection queries may run although they are not on the list (the server's `introspection`). */
  introspection: boolean;
  /** The parser's token limit, for the introspection check of texts that are not on the list. */
  maxTokens: number;
}

/** What Apollo gets (the id replaced by its text), or why the request is refused (400). */
export type TrustedRequestDecision =
  | { admitted: true; body: unknown; search: string }
  | { admitted: false; code: Extract<ErrorCode, 'PERSISTED_QUERY_NOT_FOUND' | 'OPERATION_NOT_TRUSTED'>; message: string };

/**
 * The gate of GRAPHQL_TRUSTED_DOCUMENTS, in front of Apollo. A request names its operation by id, as
 * graphql-codegen's client preset recommends: `documentId: "sha256:<hex>"` (GraphQL-over-HTTP's persisted
 * documents; POST body or GET parameter), or `extensions.persistedQuery.sha256Hash` (what Apollo Client's and
 * urql's persisted-query links send; bare hex or prefixed). A known id becomes its text; an unknown one is
 * PERSISTED_QUERY_NOT_FOUND. A request that sends text instead runs only if the text is on the list byte for
 * byte or, when introspection is on, if it only introspects; anything else is OPERATION_NOT_TRUSTED.
 *
 * SECURITY: decided before the token is even looked at, so a refusal is the same with, without or with a bad
 * token. Not Apollo's automatic persisted queries (still off, apollo.ts): the list is read at boot and nothing a
 * client sends adds to it; the `persistedQuery` extension is removed once resolved, so Apollo's APQ code never
 * sees a trusted request, and every other one is refused here.
 */
export function createTrustedRequestGate(trusted: TrustedDocuments, options: TrustedRequestGateOptions) {
  return function decide(method: string, body: unknown, search: string): TrustedRequestDecision {
    const params = new URLSearchParams(search);
    const request = method === 'GET' ? fromSearch(params) : fromBody(body);
    if (request.id !== undefined) {
      const text = trusted.byId.get(normaliseDocumentId(request.id));
      if (text === undefined) {
        return {
          admitted: false,
          code: 'PERSISTED_QUERY_NOT_FOUND',
          message:
            `No trusted operation has the id ${JSON.stringify(request.id.slice(0, 80))}: this server runs only the operations ` +
            'of its trusted-documents manifest. Send an id from that manifest (regenerate the client from the same operations).',
        };
      }
      if (request.query !== undefined && request.query !== text) {
        return {
          admitted: false,
          code: 'OPERATION_NOT_TRUSTED',
          message: 'The request carries a document id and a different query text; send only the id.',
        };
      }
      return method === 'GET'
        ? { admitted: true, body, search: resolvedSearch(params, text) }
        : { admitted: true, body: resolvedBody(body, text), search };
    }
    // No query and no id: Apollo's own 400 ("must contain a non-empty `query`") says it best.
    if (typeof request.query !== 'string') return { admitted: true, body, search };
    if (trusted.texts.has(request.query)) return { admitted: true, body, search };
    if (options.introspection && onlyIntrospects(request.query, options.maxTokens)) return { admitted: true, body, search };
    return {
      admitted: false,
      code: 'OPERATION_NOT_TRUSTED',
      message:
        'This server runs only the operations of its trusted-documents manifest, and this query is not one of them. ' +
        'Send the `documentId` of a trusted operation.',
    };
  };
}

export type TrustedRequestGate = ReturnType<typeof createTrustedRequestGate>;

interface Requested {
  id: string | undefined;
  query: unknown;
}

function fromBody(body: unknown): Requested {
  if (typeof body !== 'object' || body === null) return { id: undefined, query: undefined };
  const { documentId, query, extensions } = body as { documentId?: unknown; query?: unknown; extensions?: unknown };
  return { id: idOf(documentId, extensions), query };
}

function fromSearch(params: URLSearchParams): Requested {
  let extensions: unknown;
  try {
    extensions = JSON.parse(params.get('extensions') ?? 'null');
  } catch {
    // Apollo answers a malformed `extensions` parameter with its own 400.
  }
  return { id: idOf(params.get('documentId') ?? undefined, extensions), query: params.get('query') ?? undefined };
}

/** `documentId`, else `extensions.persistedQuery.sha256Hash`; a present but non-string id names nothing. */
function idOf(documentId: unknown, extensions: unknown): string | undefined {
  const persistedQuery = (extensions as { persistedQuery?: unknown } | null | undefined)?.persistedQuery;
  const candidate =
    documentId ?? (persistedQuery === undefined ? undefined : ((persistedQuery as { sha256Hash?: unknown } | null)?.sha256Hash ?? ''));
  if (candidate === undefined || candidate === null) return undefined;
  return typeof candidate === 'string' ? candidate : JSON.stringify(candidate);
}

function resolvedBody(body: unknown, text: string): unknown {
  const { documentId: _id, extensions, ...rest } = body as { documentId?: unknown; extensions?: Record<string, unknown> | null };
  const { persistedQuery: _resolved, ...otherExtensions } = extensions ?? {};
  return { ...rest, query: text, ...(Object.keys(otherExtensions).length ? { extensions: otherExtensions } : {}) };
}

function resolvedSearch(params: URLSearchParams, text: string): string {
  const next = new URLSearchParams(params);
  next.delete('documentId');
  next.set('query', text);
  try {
    const { persistedQuery: _resolved, ...otherExtensions } = JSON.parse(next.get('extensions') ?? '{}') as Record<string, unknown>;
    if (Object.keys(otherExtensions).length) next.set('extensions', JSON.stringify(otherExtensions));
    else next.delete('extensions');
  } catch {
    // Left as it is: Apollo refuses it.
  }
  return `?${next.toString()}`;
}

/** Whether every operation of the text only introspects; false when it does not parse. */
function onlyIntrospects(query: string, maxTokens: number): boolean {
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens });
  } catch {
    return false;
  }
  return document.definitions.every(
    (definition) => definition.kind === 'FragmentDefinition' || (definition.kind === 'OperationDefinition' && isIntrospectionOnly(definition)),
  );
}
