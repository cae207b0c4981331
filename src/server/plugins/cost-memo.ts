import { LRUCache } from 'lru-cache';
import type { DocumentNode, OperationDefinitionNode } from 'graphql';

/**
 * Costs already computed (abuse-limits.ts): walking a document costs more than the rest of a small request's
 * validation. One LRU for the whole process, bounded in entries and in bytes, so nothing a client sends can
 * grow it: the key holds only the variables the operation declares (undeclared ones never change a cost), a
 * key over `maxKeyChars` is not remembered at all (a 900 KB message body is costed, not cached), and only
 * authenticated requests fill it (see abuse-limits.ts). Only numbers are cached: nothing of any tenant's data.
 *
 * The previous memo kept 256 entries per document keyed by all variables, declared or not, and ran before
 * authentication: ~1,000 tokenless requests with a 900 KB undeclared variable held ~700 MB.
 */
export interface CostMemoLimits {
  maxEntries: number;
  /** Upper bound of the memory the keys take, as counted by `keyBytes`. */
  maxBytes: number;
  maxKeyChars: number;
}

export const DEFAULT_COST_MEMO_LIMITS: CostMemoLimits = { maxEntries: 5000, maxBytes: 4 * 1024 * 1024, maxKeyChars: 2048 };

/** What one entry costs: two bytes per UTF-16 key character plus the entry's bookkeeping (generous). */
const keyBytes = (key: string) => key.length * 2 + 128;

export class CostMemo {
  readonly #cache: LRUCache<string, number>;
  readonly #documentIds = new WeakMap<DocumentNode, number>();
  readonly #maxKeyChars: number;
  #nextDocumentId = 0;

  constructor(limits: CostMemoLimits = DEFAULT_COST_MEMO_LIMITS) {
    this.#maxKeyChars = limits.maxKeyChars;
    this.#cache = new LRUCache<string, number>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: (_cost, key) => keyBytes(key),
    });
  }

  /**
   * The memo key of an operation with its declared variables, or undefined when it is too long to remember.
   * Apollo caches parsed documents, so the same operation text arrives as the same DocumentNode object; a
   * small number stands for it in the key (a document Apollo dropped just leaves entries the LRU evicts).
   */
  keyOf(document: DocumentNode, operationName: string | undefined, declaredVariables: Record<string, unknown>): string | undefined {
    let documentId = this.#documentIds.get(document);
    if (documentId === undefined) this.#documentIds.set(document, (documentId = this.#nextDocumentId++));
    // The operation name is a client's choice too: it counts against maxKeyChars like the variables.
    if ((operationName?.length ?? 0) > this.#maxKeyChars) return undefined;
    const key = `${documentId}\u0000${operationName ?? ''}\u0000${JSON.stringify(declaredVariables)}`;
    return key.length > this.#maxKeyChars ? undefined : key;
  }

  get(key: string): number | undefined {
    return this.#cache.get(key);
  }

  set(key: string, cost: number): void {
    this.#cache.set(key, cost);
  }

  get entries(): number {
    return this.#cache.size;
  }

  /** Bytes the entries take, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#cache.calculatedSize;
  }
}

/** Only the variables `operation` declares, own properties of `variables` only. */
export function declaredVariables(operation: OperationDefinitionNode | undefined, variables: Record<string, unknown>): Record<string, unknown> {
  const declared: Record<string, unknown> = {};
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (Object.hasOwn(variables, name)) declared[name] = variables[name];
  }
  return declared;
}
