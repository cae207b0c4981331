import { CombinedGraphQLErrors } from '@apollo/client';

/** An error as the page shows it: the server's message and its `extensions.code` (README › Errors). */
export function describeError(error: unknown): string {
  if (CombinedGraphQLErrors.is(error)) {
    return error.errors.map((e) => (e.extensions?.code ? `${e.message} (${String(e.extensions.code)})` : e.message)).join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}
