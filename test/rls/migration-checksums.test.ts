import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ChangedMigrationsError, CHECKSUM_TABLE } from '../../src/db/migration-checksums.js';
import { findMigrationStatus } from '../../src/db/migration-status.js';
import { MIGRATIONS_DIR } from '../../src/db/sql-file-migrations.js';
import { startServer } from '../../src/server/create-server.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { productionServerOptions } from '../support/server.js';

// Editing an applied migration must stop the next migrate and the next start-up, naming the file. These tests
// delete and rewrite bookkeeping rows, so they get a database of their own; the migrations they edit are copies.
let database: TestDatabase;
let directory: string;

beforeAll(async () => {
  database = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  await database?.drop();
});

async function owner<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: database.ownerUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function copyOfMigrations(): Promise<string> {
  const copy = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-migrations-'));
  await cp(MIGRATIONS_DIR, copy, { recursive: true });
  return copy;
}

function serverOptions(migrationsDirectory: string) {
  return { ...productionServerOptions(database.appUrl), migrations: { ownerUrl: database.ownerUrl, directory: migrationsDirectory } };
}

describe('migration checksums', () => {
  beforeAll(async () => {
    directory = await copyOfMigrations();
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('records the checksum of every applied migration when it runs', async () => {
    const { rows } = await owner((client) =>
      client.query<{ name: string; sha256: string }>(`select name, sha256 from ${CHECKSUM_TABLE} order by name`),
    );
    const { rows: applied } = await owner((client) => client.query<{ name: string }>('select name from kysely_migration order by name'));
    expect(rows.map((r) => r.name)).toEqual(applied.map((r) => r.name));
    expect(rows.map((r) => r.name)).toContain('0009_tenant_rls_helper');
    for (const row of rows) expect(row.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await findMigrationStatus(database.ownerUrl, directory)).toEqual({ pending: [], changed: [] });
  });

  it('refuses to migrate and to start after an applied migration was edited, naming the file', async () => {
    await appendFile(path.join(directory, '0003_audit_events.sql'), '\n-- an edit after the fact\n');
    try {
      const migrating = await migrateToLatest(database.ownerUrl, directory).then(
        () => null,
        (error: unknown) => error as Error,
      );
      expect(migrating).toBeInstanceOf(ChangedMigrationsError);
      expect(migrating!.message).toMatch(/^Refusing to start: applied migrations were edited after they ran/);
      expect(migrating!.message).toMatch(/^ {2}- 0003_audit_events\.sql changed since it was applied .*Fix: restore the file/m);
      expect((migrating as ChangedMigrationsError).changed.map((c) => c.file)).toEqual(['0003_audit_events.sql']);

      const starting = await startServer(serverOptions(directory)).then(
        async (server) => {
          await server.close();
          return null;
        },
        (error: unknown) => error as Error,
      );
      expect(starting).toBeInstanceOf(ChangedMigrationsError);
      expect(starting!.message).toContain('0003_audit_events.sql changed since it was applied');

      // The shipped files are untouched: start-up is fine with them.
      const server = await startServer(serverOptions(MIGRATIONS_DIR));
      await server.close();
    } finally {
      await rm(directory, { recursive: true, force: true });
      directory = await copyOfMigrations();
    }
  });

  it('records missing checksums of a database migrated before checksums existed, then verifies them', async () => {
    await owner((client) => client.query(`drop table ${CHECKSUM_TABLE}`));
    // Without the table nothing can be compared, and nothing is refused.
    expect(await findMigrationStatus(database.ownerUrl, directory)).toEqual({ pending: [], changed: [] });
    const report = await migrateToLatest(database.ownerUrl, directory);
    expect(report.applied).toEqual([]);
    expect(report.checksummed).toContain('0001_roles_and_tenant_context');
    expect(report.checksummed).toContain('0009_tenant_rls_helper');
    expect((await migrateToLatest(database.ownerUrl, directory)).checksummed).toEqual([]);

    await appendFile(path.join(directory, '0001_roles_and_tenant_context.sql'), '\n-- edited\n');
    const status = await findMigrationStatus(database.ownerUrl, directory);
    expect(status.changed.map((c) => c.file)).toEqual(['0001_roles_and_tenant_context.sql']);
    await expect(migrateToLatest(database.ownerUrl, directory)).rejects.toThrow(/0001_roles_and_tenant_context\.sql changed since it was applied/);
  });
});
