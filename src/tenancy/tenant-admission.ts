import { ServerBusyError } from '../errors/limit-errors.js';
import type { TenantRateLimiter } from '../limits/tenant-rate-limiter.js';
import { FairConnectionScheduler, FairShareTimeoutError, type Permit } from './fair-connection-scheduler.js';
import type { PlanLimits, PlanLimitsSource } from './plan-limits.js';

export interface TenantAdmissionOptions {
  readonly scheduler: FairConnectionScheduler;
  readonly planLimits: PlanLimitsSource;
  /** Absent: no rate limit (tools). */
  readonly rateLimiter?: TenantRateLimiter;
  /** How long a request may wait for its tenant's turn before SERVER_BUSY. */
  readonly waitTimeoutMs: number;
  /**
   * Connections one tenant may hold at once, for every tenant, instead of each plan's `connection_share`
   * (TENANT_CONNECTION_SHARE). Equal to the scheduler's capacity, it turns fairness off.
   */
  readonly shareOverride?: number;
}

export interface Admission {
  readonly permit: Permit;
  readonly limits: PlanLimits;
}

/**
 * The gate every request transaction passes before it may take a pooled connection: the tenant's plan, then its
 * rate limit (429 RATE_LIMITED), then its fair share of the pool (503 SERVER_BUSY after `waitTimeoutMs`).
 * Refused requests hold nothing. The caller releases the permit exactly once, when its transaction ended.
 */
export class TenantAdmission {
  constructor(private readonly options: TenantAdmissionOptions) {}

  get capacity(): number {
    return this.options.scheduler.capacity;
  }

  /** The plan of a tenant, without admitting anything (for the request deadline and statement timeout). */
  async limitsOf(tenantId: string): Promise<PlanLimits> {
    try {
      return await this.options.planLimits(tenantId);
    } catch (error) {
      // The plan lookups' own slots stayed busy (a cold start under load): as busy as a full share.
      if (error instanceof FairShareTimeoutError) throw new ServerBusyError(error.timeoutMs, error.share, 1);
      throw error;
    }
  }

  /** Connections `limits` lets one tenant hold at once: its fraction of the capacity, at least one. */
  shareOf(limits: PlanLimits): number {
    return this.options.shareOverride ?? Math.max(1, Math.ceil(this.capacity * limits.connectionShare));
  }

  async admit(tenantId: string, limits: PlanLimits, signal: AbortSignal): Promise<Permit> {
    await this.options.rateLimiter?.consume(tenantId, limits);
    const share = this.shareOf(limits);
    try {
      return await this.options.scheduler.acquire(tenantId, { share, timeoutMs: this.options.waitTimeoutMs, signal });
    } catch (error) {
      if (error instanceof FairShareTimeoutError) throw new ServerBusyError(error.timeoutMs, share, 1);
      throw error;
    }
  }
}
