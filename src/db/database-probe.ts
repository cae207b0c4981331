import type pg from 'pg';
import { createPool } from './pool.js';

/** A bounded "does the database answer?" for `/health` and `/ready`. */
export interface DatabaseProbe {
  /** Resolves true when `select 1` answered within the probe's deadline, false otherwise; never rejects. */
  answers(): Promise<boolean>;
  close(): Promise<void>;
}

/** How long a probe may take: a load balancer's probe usually times out after 1–5 s, and "no" must come first. */
export const PROBE_DEADLINE_MS = 1000;

/**
 * Probes on a connection of their own, never one of the request pool: a pool busy with tenant traffic (or one
 * tenant's slow requests) must not make a live instance look dead, nor a dead database look alive for as long as
 * the request pool's acquire timeout. The connection stays open between probes (no reconnect per probe); one that
 * died is replaced at the next probe.
 *
 * Each probe is bounded three ways: the connect/acquire timeout, a client-side query timeout, and a deadline on
 * the whole call.
 */
export function createDatabaseProbe(connectionString: string, deadlineMs = PROBE_DEADLINE_MS): DatabaseProbe {
  const pool: pg.Pool = createPool({
    connectionString,
    max: 1,
    acquireTimeoutMs: deadlineMs,
    applicationName: 'tenantgraph-probe',
    idleTimeoutMs: 0,
    queryTimeoutMs: deadlineMs,
  });
  return {
    async answers() {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs)));
      // A kept connection may have died since the last probe (a restarted server, PgBouncer dropping it): it fails
      // once and is discarded, so one retry on a fresh connection tells "the database is away" from "that
      // connection was".
      const attempt = () =>
        pool.query('select 1').then(
          () => true,
          () => false,
        );
      const probe = attempt().then((ok) => ok || attempt());
      try {
        return await Promise.race([probe, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => pool.end(),
  };
}
