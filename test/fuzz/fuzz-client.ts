import type { GraphQLFormattedError } from 'graphql';

export interface ApiResponse<TData> {
  status: number;
  /** The body exactly as received, for the leak scan. */
  text: string;
  /** The parsed body, or null when it was not JSON. */
  body: { data?: TData | null; errors?: GraphQLFormattedError[] } | null;
  requestId: string;
}

export interface Caller {
  token: string;
  /** The caller's tenant marker; also the prefix of its request ids, which the audit trail records. */
  marker: string;
}

export type Send = <TData>(caller: Caller, query: string, variables?: Record<string, unknown>) => Promise<ApiResponse<TData>>;

/**
 * POSTs GraphQL over real HTTP and keeps the raw text. Request ids carry the caller's marker, so an audit event
 * that lands in the wrong tenant is as visible as a leaked title.
 */
export function createSender(url: string): Send {
  let counter = 0;
  return async <TData>(caller: Caller, query: string, variables: Record<string, unknown> = {}) => {
    const requestId = `${caller.marker}-${(counter += 1)}`;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller.token}`, 'x-request-id': requestId },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: ApiResponse<TData>['body'] = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: response.status, text, body, requestId };
  };
}
