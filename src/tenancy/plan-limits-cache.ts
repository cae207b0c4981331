import { LRUCache } from 'lru-cache';
import { isValidTenantId } from '../ids/entity-ids.js';
import type { PlanLimits, PlanLimitsSource } from './plan-limits.js';

/**
 * How long a tenant's cached limits are fresh while this server is listening for plan changes
 * (PLAN_CACHE_LISTENING_TTL_MS): every change is announced on commit (migrations/0021) and evicts the entry, so the
 * freshness is only the bound for a change no notice announced (a trigger disabled, a row changed with
 * session_replication_role = replica). 10 minutes: at 1,000 tenants a re-read per tenant per 10 minutes is ~1.7
 * plan reads a second per server, where 30 s cost ~33.
 */
export const DEFAULT_PLAN_CACHE_LISTENING_TTL_MS = 600_000;

export interface PlanLimitsCacheOptions {
  /**
   * Freshness while no listener vouches for the notices (PLAN_CACHE_TTL_MS): none configured, not connected yet,
   * lost, reconnecting, or not heard from within this time. 0: no cache, a read per call.
   */
  readonly ttlMs: number;
  /** Freshness while the listener vouches (PLAN_CACHE_LISTENING_TTL_MS); never shorter than `ttlMs`. Default `ttlMs`. */
  readonly listeningTtlMs?: number;
  /** Entries at most; the least recently used goes. */
  readonly maxTenants: number;
  /** Milliseconds on a monotonic clock, injectable for tests (default performance.now). */
  readonly now?: () => number;
  /** Counts for /metrics (plan-cache-metrics.ts). */
  readonly observer?: PlanLimitsCacheObserver;
}

export interface PlanLimitsCacheObserver {
  /** A plan read started: no entry (`miss`), or an entry past its freshness re-read in the background (`stale`). */
  read(reason: 'miss' | 'stale'): void;
  /** Entries evicted by a notice: one tenant's (`tenant`) or all (`all`, a plan_limits change or a (re)connect). */
  evicted(scope: 'tenant' | 'all'): void;
}

interface Entry {
  readonly limits: PlanLimits;
  /** When the read that produced it began: it reflects every change committed before then. */
  readonly readAt: number;
}

interface Flight {
  readonly promise: Promise<PlanLimits>;
  /** The eviction count when the read began: a read overtaken by an eviction is handed to its waiters, not kept. */
  readonly evictions: number;
}

/**
 * The bounded cache in front of a {@link PlanLimitsSource} (the plan lookup of plan-limits.ts), with two
 * freshness bounds and evictions by notice (plan-change-listener.ts).
 *
 * An entry is fresh while it is younger than `ttlMs`, or younger than `listeningTtlMs` while the listener vouches
 * for the notices: it confirmed less than `ttlMs` ago that it receives them ({@link listenerConfirmed}). That rule
 * keeps the guarantee of a cache without notices: a change is never served longer than `ttlMs` after its commit.
 * (A change committed before the last confirmation was announced to the listener, so its notice evicted the entry;
 * one committed after it is younger than `ttlMs` while the listener still vouches; once it no longer does, entries
 * older than `ttlMs` are stale.) A connection that died silently stops confirming, and the short bound is back
 * within `ttlMs`.
 *
 * A stale entry is served once more while it is re-read in the background (stale-while-revalidate), so only a
 * tenant without an entry waits for a read; a failed re-read drops the entry. An evicted entry is gone: the
 * tenant's next request waits for a read that began after the notice, so it runs under the new limits. Concurrent
 * reads of one name share one; a read in flight when an eviction comes answers its waiters but is not kept.
 *
 * Entries are keyed by the name the token gave the tenant (its id, or an external id); a tenant's eviction also
 * removes the entries of its other names (the limits carry the id each name resolved to).
 */
export class PlanLimitsCache {
  readonly #source: PlanLimitsSource;
  readonly #ttlMs: number;
  readonly #listeningTtlMs: number;
  readonly #now: () => number;
  readonly #observer: PlanLimitsCacheObserver | undefined;
  readonly #entries: LRUCache<string, Entry> | undefined;
  readonly #flights = new Map<string, Flight>();
  /** Names other than the tenant id, per tenant id, so a notice naming the id finds them. */
  readonly #aliases = new Map<string, Set<string>>();
  #evictions = 0;
  #confirmedAt = Number.NEGATIVE_INFINITY;

  constructor(source: PlanLimitsSource, options: PlanLimitsCacheOptions) {
    this.#source = source;
    this.#ttlMs = options.ttlMs;
    this.#listeningTtlMs = Math.max(options.ttlMs, options.listeningTtlMs ?? options.ttlMs);
    this.#now = options.now ?? (() => performance.now());
    this.#observer = options.observer;
    this.#entries =
      options.ttlMs === 0
        ? undefined
        : new LRUCache<string, Entry>({
            max: options.maxTenants,
            dispose: (entry, name) => this.#forgetAlias(name, entry),
          });
  }

  /** `ttlMs` 0: no cache (PLAN_CACHE_TTL_MS=0 reads on every request, listener or not). */
  get enabled(): boolean {
    return this.#entries !== undefined;
  }

  /** The limits of the tenant `name` names (its id or an external id): cached, or read. Rejects when the read fails. */
  readonly limitsOf: PlanLimitsSource = async (name) => {
    const entries = this.#entries;
    if (!entries) return this.#source(name);
    const entry = entries.get(name);
    if (!entry) return this.#read(name, 'miss');
    if (!this.#fresh(entry)) {
      // SECURITY (availability): the background re-read's failure drops the entry; nothing waits for it.
      this.#read(name, 'stale').catch(() => {});
    }
    return entry.limits;
  };

  /**
   * The listener confirmed at `at` (this cache's clock) that it receives the notices: every change committed
   * before `at` has been announced to it (plan-change-listener.ts passes the time it sent its LISTEN or its last
   * answered heartbeat, not the time of the answer).
   */
  listenerConfirmed(at: number): void {
    if (at > this.#confirmedAt) this.#confirmedAt = at;
  }

  /** The listener (re)connected at `at`: notices may have been missed before, so every entry goes. */
  listenerConnected(at: number): void {
    this.evictAll();
    this.#confirmedAt = at;
  }

  /** The listener lost its connection: from now on only `ttlMs` keeps an entry fresh. */
  listenerLost(): void {
    this.#confirmedAt = Number.NEGATIVE_INFINITY;
  }

  /** Whether the listener vouches for the notices now (the long freshness applies). */
  get listening(): boolean {
    return this.#now() - this.#confirmedAt < this.#ttlMs;
  }

  /** A notice: the plan of `tenantId` (a tenant id) may have changed. Its entries go, under every name. */
  evictTenant(tenantId: string): void {
    this.#evictions++;
    this.#observer?.evicted('tenant');
    const entries = this.#entries;
    if (!entries) return;
    for (const name of [tenantId, ...(this.#aliases.get(tenantId) ?? [])]) entries.delete(name);
    // A read in flight under an external id may resolve to this tenant: none of those is joined any more.
    for (const name of this.#flights.keys()) if (name === tenantId || !isValidTenantId(name)) this.#flights.delete(name);
  }

  /** A notice for every tenant (a plan_limits change), or a (re)connected listener: every entry goes. */
  evictAll(): void {
    this.#evictions++;
    this.#observer?.evicted('all');
    this.#entries?.clear();
    this.#flights.clear();
  }

  /** Entries held now (for /metrics and tests). */
  get size(): number {
    return this.#entries?.size ?? 0;
  }

  /** Whether `name` has an entry (fresh or stale), without touching its recency (tests). */
  has(name: string): boolean {
    return this.#entries?.has(name, { updateAgeOnHas: false }) ?? false;
  }

  #fresh(entry: Entry): boolean {
    const age = this.#now() - entry.readAt;
    return age < this.#ttlMs || (age < this.#listeningTtlMs && this.listening);
  }

  #read(name: string, reason: 'miss' | 'stale'): Promise<PlanLimits> {
    const joined = this.#flights.get(name);
    if (joined) return joined.promise;
    this.#observer?.read(reason);
    const readAt = this.#now();
    const evictions = this.#evictions;
    const promise = this.#source(name).then(
      (limits) => {
        if (this.#flights.get(name) === flight) this.#flights.delete(name);
        if (this.#evictions === evictions) this.#store(name, { limits, readAt });
        return limits;
      },
      (error: unknown) => {
        if (this.#flights.get(name) === flight) this.#flights.delete(name);
        if (this.#evictions === evictions) this.#entries?.delete(name);
        throw error;
      },
    );
    const flight: Flight = { promise, evictions };
    this.#flights.set(name, flight);
    return promise;
  }

  #store(name: string, entry: Entry): void {
    this.#entries?.set(name, entry);
    const tenantId = entry.limits.tenantId;
    if (tenantId === undefined || tenantId === name || !this.#entries?.has(name)) return;
    let names = this.#aliases.get(tenantId);
    if (!names) this.#aliases.set(tenantId, (names = new Set()));
    names.add(name);
  }

  #forgetAlias(name: string, entry: Entry): void {
    const tenantId = entry.limits.tenantId;
    if (tenantId === undefined || tenantId === name) return;
    const names = this.#aliases.get(tenantId);
    names?.delete(name);
    if (names?.size === 0) this.#aliases.delete(tenantId);
  }
}
