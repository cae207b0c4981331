import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type RunningPostgres } from '../../../src/db/embedded-postgres.js';
import { withUser } from '../../../src/db/database-urls.js';
import { migrateToLatest } from '../../../src/db/migrate.js';
import { APP_ROLE, createDatabaseIfMissing, enableAppRoleLogin } from '../../../src/db/prepare-database.js';
import { freePort } from '../../support/processes.js';

/** An embedded PostgreSQL of a fault test's own (never the shared test database), to stop and start again. */
export interface PrivateCluster {
  ownerUrl: string;
  appUrl: string;
  stop(): Promise<void>;
  /** Starts it again on the same data directory and port. */
  start(): Promise<void>;
}

/** Creates, migrates and starts it; `cleanups` gets its stop and the removal of its directory. */
export async function startPrivateCluster(cleanups: (() => Promise<unknown>)[], database: string, appPassword: string): Promise<PrivateCluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), `tenantgraph-${database}-`));
  await chmod(root, 0o755);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'pg');
  const port = await freePort();
  const cluster = () => startEmbeddedPostgres({ dataDir, port, password: 'postgres', persistent: true });
  let postgres: RunningPostgres = await cluster();
  cleanups.push(() => postgres.stop());
  await createDatabaseIfMissing(postgres.urlFor('postgres'), database);
  const ownerUrl = postgres.urlFor(database);
  await migrateToLatest(ownerUrl);
  await enableAppRoleLogin(ownerUrl, appPassword);
  return {
    ownerUrl,
    appUrl: withUser(ownerUrl, APP_ROLE, appPassword),
    stop: () => postgres.stop(),
    start: async () => {
      postgres = await cluster();
    },
  };
}
