/**
 * Which request an error belongs to, for the log line of an unexpected error written where no request is at
 * hand (Apollo's `formatError`, plugins/error-plugin.ts). The code that knows the request tags the error's cause
 * before Apollo formats it; a weak map, so an error's entry goes with the error.
 *
 * Not an AsyncLocalStorage: on Node 20 one makes every promise of the process run promise hooks, and a
 * dashboard request creates thousands of promises (README › Performance).
 */
const requestIds = new WeakMap<object, string>();

export function tagErrorWithRequest(error: unknown, requestId: string): void {
  if (typeof error === 'object' && error !== null && !requestIds.has(error)) requestIds.set(error, requestId);
}

/** The request id `error` was tagged with, or undefined when nothing that knew the request saw it. */
export function requestIdOfError(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? requestIds.get(error) : undefined;
}
