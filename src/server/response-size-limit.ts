import { HeaderMap, type HTTPGraphQLResponse } from '@apollo/server';
import type { FormattedExecutionResult } from 'graphql';
import type { ErrorCode } from '../errors/app-error.js';

/**
 * The response-size limit (GRAPHQL_MAX_RESPONSE_BYTES). A result over it is refused with RESPONSE_TOO_LARGE
 * and never written, so one request cannot make the server hold and send an unbounded body (query cost
 * refuses most such documents before they run; this catches what an estimate cannot, e.g. long texts).
 *
 * Two places apply it, because a query and a mutation differ in what a refused response may leave behind:
 *   - queries: after Apollo serialised the result ({@link limitResponseSize}, in the HTTP handler), so the
 *     check costs one length comparison; their read-only transaction has committed, which changes nothing;
 *   - mutations: before COMMIT (request-transaction-plugin.ts, {@link resultSizeOver}), so a refused response
 *     never hides a change that was saved: the transaction is rolled back.
 */
export const RESPONSE_TOO_LARGE: ErrorCode = 'RESPONSE_TOO_LARGE';

/** Whether `text` is longer than `limitBytes` in UTF-8, encoding it only when its length leaves doubt. */
export function exceedsBytes(text: string, limitBytes: number): boolean {
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes.
  if (text.length * 3 <= limitBytes) return false;
  if (text.length > limitBytes) return true;
  return Buffer.byteLength(text) > limitBytes;
}

/** The serialised size of a result when it is over `limitBytes`, else null. Serialises once. */
export function resultSizeOver(result: FormattedExecutionResult, limitBytes: number): number | null {
  const text = JSON.stringify(result);
  return exceedsBytes(text, limitBytes) ? Buffer.byteLength(text) : null;
}

/** The error a refused response is replaced with: what happened, the limit, and what to do instead. */
export function responseTooLargeError(sizeBytes: number, limitBytes: number, rolledBack: boolean) {
  return {
    message:
      `The response would be ${sizeBytes} bytes, over the limit of ${limitBytes} bytes, so it was not sent` +
      (rolledBack ? ' and the mutation was rolled back (nothing was saved)' : '') +
      '. Ask for smaller pages (a lower `first`), fewer fields (e.g. leave out `body`) or fewer aliases, and page through the rest.',
    extensions: { code: RESPONSE_TOO_LARGE, limitBytes },
  };
}

/** HTTP status of a refused response: the request asked for more than the server sends in one response. */
export const RESPONSE_TOO_LARGE_STATUS = 400;

/**
 * Returns `response` unchanged when its serialised body fits `limitBytes`, otherwise a RESPONSE_TOO_LARGE error
 * response in its place. Streamed bodies (incremental delivery, unused here) pass through.
 */
export function limitResponseSize(response: HTTPGraphQLResponse, limitBytes: number): HTTPGraphQLResponse {
  if (response.body.kind !== 'complete' || !exceedsBytes(response.body.string, limitBytes)) return response;
  const error = responseTooLargeError(Buffer.byteLength(response.body.string), limitBytes, false);
  const headers = new HeaderMap();
  headers.set('content-type', response.headers.get('content-type') ?? 'application/json; charset=utf-8');
  return {
    status: RESPONSE_TOO_LARGE_STATUS,
    headers,
    body: { kind: 'complete', string: JSON.stringify({ errors: [error] }) },
  };
}
