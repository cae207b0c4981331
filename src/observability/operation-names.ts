import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse } from 'graphql';

export const SDK_OPERATIONS_DIR = fileURLToPath(new URL('../sdk/operations/', import.meta.url));

/** Maps a client-chosen operation name to a metric label from a closed set. */
export type OperationLabeler = (name: string | null | undefined) => string;

/** The label of operations without a name. */
export const ANONYMOUS_OPERATION = 'anonymous';
/** The label of every name outside the allow-list. */
export const OTHER_OPERATION = 'other';

/**
 * The names of the operations the SDK ships (`src/sdk/operations/*.graphql`), read once at start-up.
 * Throws when a file does not parse: the SDK's own documents are part of the build.
 */
export async function loadSdkOperationNames(directory: string = SDK_OPERATIONS_DIR): Promise<string[]> {
  const files = (await readdir(directory)).filter((file) => file.endsWith('.graphql')).sort();
  const names: string[] = [];
  for (const file of files) {
    const document = parse(await readFile(path.join(directory, file), 'utf8'), { noLocation: true });
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION && definition.name) names.push(definition.name.value);
    }
  }
  return names;
}

/**
 * Operation names label a metric only when they are known: the SDK's operations plus an operator's allow-list
 * (METRICS_OPERATION_NAMES). Any other name becomes "other", so a client sending random names cannot create
 * unbounded time series in Prometheus.
 */
export function operationLabeler(allowed: Iterable<string>): OperationLabeler {
  const known = new Set(allowed);
  return (name) => (name ? (known.has(name) ? name : OTHER_OPERATION) : ANONYMOUS_OPERATION);
}
