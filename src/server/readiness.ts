import type { DatabaseProbe } from '../db/database-probe.js';
import { ChangedMigrationsError } from '../db/migration-checksums.js';
import { findMigrationStatus } from '../db/migration-status.js';

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
 * schema does not go backwards under a running server. At start-up an applied migration whose file was edited
 * since (its checksum differs, see db/migration-checksums.ts) throws {@link ChangedMigrationsError} naming the
 * file: the server refuses to start. Without a check the caller vouches that it migrated (src/main.ts migrates
 * before it serves, and migrating verifies the checksums). Each probe costs one `select 1` on the probe's own
 * connection, bounded in time (see db/database-probe.ts).
 */
export async function createReadinessCheck(probe: DatabaseProbe, migrations?: MigrationCheck): Promise<() => Promise<string | null>> {
  const status = migrations ? await findMigrationStatus(migrations.ownerUrl, migrations.directory) : { pending: [], changed: [] };
  if (status.changed.length) throw new ChangedMigrationsError(status.changed);
  let pending = status.pending;
  return async () => {
    if (pending.length && migrations) {
      const now = await findMigrationStatus(migrations.ownerUrl, migrations.directory).catch(() => null);
      if (now?.changed.length) return `migrations changed after they were applied: ${now.changed.map((c) => c.file).join(', ')}`;
      if (now) pending = now.pending;
      if (pending.length) return `migrations pending: ${pending.join(', ')}`;
    }
    return (await probe.answers()) ? null : 'database unreachable';
  };
}
