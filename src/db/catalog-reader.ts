import { CompiledQuery, type Kysely } from 'kysely';

/** The one thing the catalog checks need: run a parameterised statement and get its rows. */
export interface CatalogReader {
  query<R>(text: string, parameters?: readonly unknown[]): Promise<{ rows: R[] }>;
}

/** Anything the product or the tests hold a connection as: a pg client or pool, or a Kysely instance. */
export type CatalogSource = Kysely<any> | { query(text: string, parameters?: unknown[]): Promise<{ rows: unknown[] }> };

/**
 * Adapts a pg client (or pool) and a Kysely instance to {@link CatalogReader}, so the same catalog checks run at
 * start-up (Kysely, as the app role), in the CLI and in the tests (a pg client as the owner, inside a
 * transaction that is rolled back). Inside a transaction, pass the transaction's client.
 */
export function catalogReader(source: CatalogSource): CatalogReader {
  if ('executeQuery' in source) {
    return {
      query: async <R>(text: string, parameters: readonly unknown[] = []) => ({
        rows: (await source.executeQuery(CompiledQuery.raw(text, [...parameters]))).rows as R[],
      }),
    };
  }
  return {
    query: async <R>(text: string, parameters: readonly unknown[] = []) => ({ rows: (await source.query(text, [...parameters])).rows as R[] }),
  };
}
