import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';

export interface GraphQLResponse<TData> {
  status: number;
  data?: TData | null;
  errors?: GraphQLFormattedError[];
  headers: Headers;
}

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql */
  url: string;
  /** A JWT; sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  /**
   * Send only each operation's id (`documentId`, the `sha256:` hash graphql-codegen embeds in the generated
   * documents) instead of its text: what a server started with GRAPHQL_TRUSTED_DOCUMENTS expects. A document
   * without an embedded hash is sent as text. Default false: the text, which every server accepts.
   */
  trustedDocuments?: boolean;
}

/** The id graphql-codegen's client preset (`persistedDocuments`) embeds in each generated document. */
export function documentIdOf(document: object): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === 'string' ? hash : undefined;
}

const printed = new WeakMap<object, string>();

/**
 * A minimal typed client over `fetch` for the documents in src/sdk/operations (generated into
 * src/__generated__/sdk). `request(ConversationsDocument, { first: 10 })` is fully typed, variables included.
 */
export function createClient(options: ClientOptions) {
  return {
    async request<TData, TVariables>(
      document: TypedDocumentNode<TData, TVariables>,
      ...[variables]: TVariables extends Record<string, never> ? [] | [TVariables] : [TVariables]
    ): Promise<GraphQLResponse<TData>> {
      const documentId = options.trustedDocuments ? documentIdOf(document) : undefined;
      let query: string | undefined;
      if (documentId === undefined) {
        query = printed.get(document);
        if (!query) printed.set(document, (query = print(document)));
      }
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify(documentId === undefined ? { query, variables } : { documentId, variables }),
      });
      const body = (await response.json()) as { data?: TData | null; errors?: GraphQLFormattedError[] };
      return { status: response.status, headers: response.headers, ...body };
    },
  };
}

export type Client = ReturnType<typeof createClient>;
