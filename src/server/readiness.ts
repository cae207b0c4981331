import type { DatabaseProbe } from '../db/database-probe.js';
import { findPendingMigrations } from '../db/migration-status.js';

export interface MigrationCheck {
  /** Owner URL: only the owner may read the migration bookkeeping (see db/migration-status.ts). */
  ownerUrl: string;
  /** Where the shipped migrations are (default: migrations/). */
  directory?: string;
}

/**
 * GET /ready's question, "can this server take traffic?": the database answers the app role, and every migration
 * this build ships is applied. Answers null when ready, otherwise why not.
 *
 * Migrations are checked as the owner at start-up and, while some are pending, again on each probe (so running the
 * migrations makes the server ready without a restart); once all are applied the answer is kept, because a
 * schema does not go backwards under a running server. Without a check the caller vouches that it migrated
 * (src/main.ts migrates before it serves). Each probe costs one `select 1` on the probe's own connection, bounded
 * in time (see db/database-probe.ts).
 */
export async function createReadinessCheck(probe: DatabaseProbe, migrations?: MigrationCheck): Promise<() => Promise<string | null>> {
  let pending = migrations ? await findPendingMigrations(migrations.ownerUrl, migrations.directory) : [];
  return async () => {
    if (pending.length && migrations) {
      pending = await findPendingMigrations(migrations.ownerUrl, migrations.directory).catch(() => pending);
      if (pending.length) return `migrations pending: ${pending.join(', ')}`;
    }
    return (await probe.answers()) ? null : 'database unreachable';
  };
}
