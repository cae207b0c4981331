import { LRUCache } from 'lru-cache';
import { isValidExternalTenantId, isValidTenantId } from '../ids/entity-ids.js';

/**
 * The tenant ids behind external tenant ids (tenants.external_id, a token's `org_2abc`), remembered in this process
 * for TENANT_CONTEXT_MODE=citus. There the prologue must name the tenant id in `SET LOCAL` before app.enter_tenant
 * runs, so it cannot resolve the external id in that statement as the standard mode does (docs/citus.md).
 *
 * SECURITY: an entry is a hint, never an access decision. The prologue passes the token's external id along, and
 * app.enter_tenant (the five-argument form, migrations/0019) enters the remembered tenant only if its external_id
 * is exactly the token's; a stale entry (the external id moved to another tenant, the tenant deleted) is refused
 * there (TG002 'stale_external_id'), forgotten, and resolved again (tenant-transaction.ts).
 *
 * Bounded: at most {@link MAX_ENTRIES} entries (least recently used go first), each for {@link TTL_MS}. Only
 * external ids that a tenant had when they were looked up are remembered, so the entries are at most the tenants
 * with an external id: a token naming an unknown organisation adds nothing. Such tokens cost one lookup each, never
 * memory (and their requests are refused by the plan lookup before they reach here; tenant-admission-setup.ts
 * bounds those lookups to two connections).
 */
export class ExternalTenantIds {
  readonly #entries = new LRUCache<string, string>({ max: MAX_ENTRIES, ttl: TTL_MS });

  /** The tenant id remembered for `externalId`, or undefined. */
  get(externalId: string): string | undefined {
    return this.#entries.get(externalId);
  }

  /** Remembers what a lookup found. Throws TypeError on a value that is not an external id or not a tenant id. */
  remember(externalId: string, tenantId: string): void {
    if (!isValidExternalTenantId(externalId) || !isValidTenantId(tenantId)) {
      throw new TypeError(`ExternalTenantIds.remember expected an external id and a tenant id, received ${JSON.stringify([externalId, tenantId])}`);
    }
    this.#entries.set(externalId, tenantId);
  }

  /** Forgets a stale entry. */
  forget(externalId: string): void {
    this.#entries.delete(externalId);
  }

  /** How many entries are held now (for tests of the bound). */
  get size(): number {
    return this.#entries.size;
  }
}

/** At most this many external ids are remembered: ~3 MB at the 255-character maximum, far less in practice. */
export const MAX_ENTRIES = 10_000;

/**
 * How long an entry is used before it is looked up again. Correctness does not depend on it (every use is checked
 * in the prologue); it only lets entries of tenants nobody uses any more leave before the size bound pushes them out.
 */
export const TTL_MS = 10 * 60_000;
