import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ViewerDocument } from '../../src/__generated__/sdk/graphql.js';
import { DELETE_APPLICATION_NAME, sha256Hex } from '../../src/admin/tenant-delete.js';
import { exportTenant, type ExportManifest } from '../../src/admin/tenant-export.js';
import { createAppDatabase } from '../../src/db/kysely.js';
import { exportLinesQuery, listTenantTableLayouts } from '../../src/db/tenant-table-layout.js';
import { beginTenantTransaction } from '../../src/tenancy/tenant-transaction.js';
import { listTenantTables } from '../../src/db/tenant-catalog.js';
import { readMigrationFiles } from '../../src/db/sql-file-migrations.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { fillEmptyTenantTables } from '../support/synthetic-rows.js';
import { withOwnerClient, snapshotTenants } from '../support/owner-db.js';
import { childEnv, exited, REPOSITORY_ROOT, runCliInProcess } from '../support/processes.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';
import { createTestTenant, tokenFor, type TestTenant } from '../support/tenants.js';

// Issue 13 §3 and §4: tenant export, import and verified deletion, through the CLI's commands (in this process;
// one real child process for the kill test) against the test database, checked as the owner.

type Urls = { ownerUrl: string; appUrl: string };
const mainDatabase = (): Urls => ({ ownerUrl: inject('ownerUrl'), appUrl: inject('appUrl') });
const cliOn = (database: Urls, ...args: string[]) =>
  runCliInProcess(args, { DATABASE_URL: database.ownerUrl, DATABASE_URL_APP: database.appUrl, JWT_SECRET: TEST_JWT_SECRET });
const cli = (...args: string[]) => cliOn(mainDatabase(), ...args);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'lifecycle-test-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
/** The newest migration's name: the schema version an export records. */
const latestMigration = async () => (await readMigrationFiles()).at(-1)!.name;

const scratchPath = (name: string) => path.join(scratch, `${name}-${Math.random().toString(36).slice(2, 8)}`);

/** The tenant's rows per tenant table (the catalog's list), counted by the owner, who sees every tenant. */
async function countRows(tenantId: string, ownerUrl = inject('ownerUrl')): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of await listTenantTables(client)) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from ${table.qualifiedName} where ${client.escapeIdentifier(table.tenantColumn)} = $1`,
        [tenantId],
      );
      counts[table.qualifiedName] = rows[0]!.n;
    }
    return counts;
  } finally {
    await client.end();
  }
}

/**
 * A tenant with rows in every tenant table: users, conversations, messages (`messages` each of `conversations`),
 * audit events (through the `audit` command, which leaves one). The test then demands a row in every table the
 * catalog lists; a table added later gets a synthetic row (test/support/synthetic-rows.ts).
 */
async function seededTenant(options: { conversations?: number; messages?: number; bodyLength?: number } = {}): Promise<TestTenant> {
  const tenant = await createTestTenant({ name: `Lifecycle ${Math.random().toString(36).slice(2, 8)} ‘quoted’ "name"` });
  const member = await tenant.addUser('MEMBER');
  await withOwnerClient(async (client) => {
    await client.query('begin');
    await enterTenant(client, tenant.id);
    await client.query(
      `insert into conversations (title, created_by, archived) select format('Topic %s', g), $1::uuid, g % 3 = 0 from generate_series(1, $2::int) g`,
      [tenant.admin.id, options.conversations ?? 3],
    );
    await client.query(
      `insert into messages (conversation_id, author_id, body)
       select c.id, case when g % 2 = 0 then $2::uuid else $3::uuid end, format('m%s %s', g, repeat('x', $5::int))
         from conversations c cross join generate_series(1, $4::int) g where c.tenant_id = $1::bigint`,
      [tenant.id, tenant.admin.id, member.id, options.messages ?? 4, options.bodyLength ?? 20],
    );
    await client.query('commit');
  });
  const audit = await cli('audit', '--tenant', tenant.id);
  expect(audit.status, audit.stderr).toBe(0);
  // Any tenant table still empty for it (one a module added since) gets a synthetic row.
  await withOwnerClient((client) => fillEmptyTenantTables(client, tenant.id));
  const counts = await countRows(tenant.id);
  for (const [table, rows] of Object.entries(counts)) expect(rows, `${table} has no row of the test tenant: seed one`).toBeGreaterThan(0);
  return tenant;
}

/**
 * Runs `work` and reports the most heap it retained meanwhile: the heap after a full garbage collection, sampled
 * every 100 ms, above the collected heap before. Garbage is never counted, so the figure does not depend on when V8
 * happens to collect.
 */
async function retainedWhile<T>(work: () => Promise<T>): Promise<{ result: T; megabytes: number }> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const baseline = process.memoryUsage().heapUsed;
  let peak = baseline;
  const sampler = setInterval(() => {
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 100);
  try {
    return { result: await work(), megabytes: (peak - baseline) / 1e6 };
  } finally {
    clearInterval(sampler);
  }
}

const readManifest = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
const withoutTime = ({ exportedAt: _exportedAt, ...rest }: ExportManifest) => rest;

describe('cli tenant export', () => {
  let tenant: TestTenant;
  let other: TestTenant;
  beforeAll(async () => {
    [tenant, other] = await Promise.all([seededTenant(), seededTenant()]);
  });

  it('writes every tenant table with its rows, counts, checksums and schema version, and only the tenant’s rows', async () => {
    const out = `${scratchPath('export')}/`;
    // Counted before: the export is audited, and its event is written after the read.
    const counts = await countRows(tenant.id);
    const result = await cli('tenant', 'export', '--tenant', tenant.id, '--out', out);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/export: public\.messages 12 rows/);
    const manifest = await readManifest(out);
    expect((await countRows(tenant.id))['public.audit_events']).toBe(counts['public.audit_events']! + 1);
    expect(manifest).toMatchObject({
      format: 'tenantgraph-tenant-export',
      formatVersion: 1,
      tenantId: tenant.id,
      schemaVersion: await latestMigration(),
    });
    expect(Object.fromEntries(manifest.tables.map((t) => [t.table, t.rows]))).toEqual(counts);
    // Parents first: tenants, then every table after the tables it refers to.
    expect(manifest.tables[0]!.table).toBe('public.tenants');
    expect(manifest.tables.findIndex((t) => t.table === 'public.users')).toBeLessThan(
      manifest.tables.findIndex((t) => t.table === 'public.conversations'),
    );
    expect(manifest.tables.findIndex((t) => t.table === 'public.conversations')).toBeLessThan(
      manifest.tables.findIndex((t) => t.table === 'public.messages'),
    );
    const files = (await readdir(out)).sort();
    expect(files).toEqual(['manifest.json', ...manifest.tables.map((t) => t.file)].sort());
    for (const entry of manifest.tables) {
      const text = await readFile(path.join(out, entry.file), 'utf8');
      expect(sha256Hex(text)).toBe(entry.sha256);
      const rows = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(rows).toHaveLength(entry.rows);
      const tenantColumn = entry.table === 'public.tenants' ? 'id' : 'tenant_id';
      for (const row of rows) expect(String(row[tenantColumn])).toBe(tenant.id);
      expect(text).not.toContain(other.id);
      expect(text).not.toContain(other.admin.id);
    }
    const tenants = await readFile(path.join(out, 'public.tenants.ndjson'), 'utf8');
    expect(JSON.parse(tenants)).toMatchObject({ id: Number(tenant.id), name: tenant.name, plan: 'standard' });
  });

  it('reads under the tenant’s Row Level Security: the same statements in another tenant’s context find no row', async () => {
    // The export's own tenant filter is not what confines it: as the app role in `other`'s context, the statements
    // for `tenant` return nothing from any table.
    const pool = new pg.Pool({ connectionString: inject('appUrl'), max: 1 });
    const database = createAppDatabase(pool);
    try {
      const tx = await beginTenantTransaction(
        database,
        { tenantId: other.id, userId: null },
        { readOnly: true, isolation: 'repeatable read', statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 },
      );
      try {
        // The export's mode: one snapshot for every table.
        expect((await sql<{ v: string }>`select current_setting('transaction_isolation') as v`.execute(tx)).rows[0]!.v).toBe('repeatable read');
        const layouts = await listTenantTableLayouts(tx);
        expect(layouts.map((t) => t.qualifiedName).sort()).toEqual((await listTenantTables(tx)).map((t) => t.qualifiedName).sort());
        for (const table of layouts) {
          expect((await sql.raw(exportLinesQuery(table, tenant.id)).execute(tx)).rows, table.qualifiedName).toEqual([]);
          expect((await sql.raw(exportLinesQuery(table, other.id)).execute(tx)).rows.length, table.qualifiedName).toBeGreaterThan(0);
        }
        await expect(
          exportTenant(tx, {
            tenantId: tenant.id,
            tables: layouts,
            schemaVersion: 'x',
            target: { kind: 'directory', path: scratchPath('mismatch') },
            progress: () => {},
          }),
        ).rejects.toThrow(`exportTenant expected a transaction of tenant ${tenant.id}, received one of tenant ${other.id}`);
      } finally {
        await tx.rollback().execute();
      }
    } finally {
      await database.db.destroy();
    }
  });

  it('refuses an unknown tenant and an existing file, with a message', async () => {
    const missing = await cli('tenant', 'export', '--tenant', '123', '--out', scratchPath('none'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('No tenant 123.');
    const file = scratchPath('exists');
    await writeFile(file, 'x');
    const exists = await cli('tenant', 'export', '--tenant', tenant.id, '--out', file);
    expect(exists.status).toBe(1);
    expect(exists.stderr).toContain('never overwrites a file');
    expect((await cli('tenant', 'export', '--out', file)).status).toBe(2);
  });

  it('streams a large tenant out and back in with bounded memory', async () => {
    // 10 000 messages of 2 000 characters: about 20 MB of rows. What export and import hold on to stays far below
    // that: a FETCH (or an INSERT batch) of rows and the stream buffers (about 3 MB here). With all rows in one
    // FETCH the export retained about twice the rows' size (measured with 40 MB: 91 MB).
    const large = await seededTenant({ conversations: 100, messages: 100, bodyLength: 2000 });
    const out = `${scratchPath('large')}/`;
    const exported = await retainedWhile(() => cli('tenant', 'export', '--tenant', large.id, '--out', out));
    expect(exported.result.status, exported.result.stderr).toBe(0);
    expect(exported.result.stderr).toContain('export: public.messages 10000 rows');
    expect((await readManifest(out)).tables.find((t) => t.table === 'public.messages')!.rows).toBe(10_000);
    expect(exported.megabytes, `the export retained ${exported.megabytes.toFixed(1)} MB`).toBeLessThan(10);

    const newId = String(100_000_000_000 + Math.floor(Math.random() * 899_999_999_999));
    const imported = await retainedWhile(() => cli('tenant', 'import', '--in', out, '--tenant-id', newId));
    expect(imported.result.status, imported.result.stderr).toBe(0);
    expect((await countRows(newId))['public.messages']).toBe(10_000);
    expect(imported.megabytes, `the import retained ${imported.megabytes.toFixed(1)} MB`).toBeLessThan(10);
  }, 120_000);
});

describe('cli tenant import', () => {
  let tenant: TestTenant;
  let second: TestDatabase;
  beforeAll(async () => {
    [tenant, second] = await Promise.all([seededTenant(), createTestDatabase()]);
  });
  afterAll(async () => {
    await second?.drop();
  });

  it('round-trips: export, import into a fresh database, export again gives identical files', async () => {
    const first = `${scratchPath('first')}/`;
    expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', first)).status).toBe(0);
    const imported = await cliOn(second, 'tenant', 'import', '--in', first);
    expect(imported.status, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout).imported).toMatchObject({ tenantId: tenant.id, fromTenantId: tenant.id });
    const again = `${scratchPath('again')}/`;
    const exported = await cliOn(second, 'tenant', 'export', '--tenant', tenant.id, '--out', again);
    expect(exported.status, exported.stderr).toBe(0);

    const [a, b] = [await readManifest(first), await readManifest(again)];
    expect(withoutTime(b)).toEqual(withoutTime(a));
    for (const entry of a.tables) {
      expect(await readFile(path.join(again, entry.file), 'utf8')).toBe(await readFile(path.join(first, entry.file), 'utf8'));
    }
    // The trigger-maintained counter is the exported one, not doubled by the messages' insert trigger.
    expect(await countRows(tenant.id, second.ownerUrl)).toEqual(await countRows(tenant.id));
  });

  it('refuses a tenant that exists, and imports a single-file export under a new id with --tenant-id', async () => {
    const file = scratchPath('single.tgexport');
    const counts = await countRows(tenant.id);
    expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', file)).status).toBe(0);
    const conflict = await cli('tenant', 'import', '--in', file);
    expect(conflict.status).toBe(1);
    expect(conflict.stderr).toContain(`Tenant ${tenant.id} already exists in this database`);

    const newId = String(100_000_000_000 + Math.floor(Math.random() * 899_999_999_999));
    const before = await snapshotTenants([tenant.id]);
    const remapped = await cli('tenant', 'import', '--in', file, '--tenant-id', newId);
    expect(remapped.status, remapped.stderr).toBe(0);
    expect(await countRows(newId)).toEqual(counts);
    expect(await snapshotTenants([tenant.id])).toEqual(before);
    // The same rows, ids and all, under the new tenant id.
    const rowsOf = async (id: string) =>
      withOwnerClient(
        async (client) =>
          (await client.query(`select id, title, message_count, created_by, created_at from conversations where tenant_id = $1 order by id`, [id]))
            .rows,
      );
    expect(await rowsOf(newId)).toEqual(await rowsOf(tenant.id));
    // The imported tenant's admin can use the API (membership, tokens).
    const server = await startTestServer();
    try {
      const response = await server.client(await tokenFor(newId, tenant.admin.id)).request(ViewerDocument);
      expect(response.errors).toBeUndefined();
      expect(response.data!.viewer.tenant.name).toBe(tenant.name);
    } finally {
      await server.close();
    }
  });

  it('is all or nothing: a damaged table file is refused and nothing is written', async () => {
    const dir = `${scratchPath('damaged')}/`;
    expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', dir)).status).toBe(0);
    const messages = path.join(dir, 'public.messages.ndjson');
    const text = await readFile(messages, 'utf8');
    await writeFile(messages, text.replace('"body":"m1 ', '"body":"M1 '));
    const newId = String(100_000_000_000 + Math.floor(Math.random() * 899_999_999_999));
    const result = await cli('tenant', 'import', '--in', dir, '--tenant-id', newId);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/public\.messages: the export holds 12 rows with checksum [0-9a-f]{64}, its manifest says 12 rows/);
    // Tenants, users and conversations were inserted before messages were read: rolled back with the rest.
    expect(Object.values(await countRows(newId)).every((n) => n === 0)).toBe(true);
  });

  it('refuses a reference to shared data the target lacks (a plan), naming it, and writes nothing', async () => {
    const plan = `lifecycle_${Math.random().toString(36).slice(2, 8)}`;
    await withOwnerClient(async (client) => {
      await client.query(
        `insert into plan_limits (plan, requests_per_second, burst, connection_share, statement_timeout_ms, request_timeout_ms) values ($1, 1, 1, 0.5, 1000, 1000)`,
        [plan],
      );
      await client.query('update tenants set plan = $1 where id = $2', [plan, tenant.id]);
    });
    try {
      const dir = `${scratchPath('plan')}/`;
      expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', dir)).status).toBe(0);
      const newId = String(100_000_000_000 + Math.floor(Math.random() * 899_999_999_999));
      const result = await cliOn(second, 'tenant', 'import', '--in', dir, '--tenant-id', newId);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('refers to a row that is neither in the export nor in this database');
      expect(result.stderr).toContain(`Key (plan)=(${plan}) is not present in table "plan_limits"`);
      expect(Object.values(await countRows(newId, second.ownerUrl)).every((n) => n === 0)).toBe(true);
    } finally {
      await withOwnerClient(async (client) => {
        await client.query("update tenants set plan = 'standard' where id = $1", [tenant.id]);
        await client.query('delete from plan_limits where plan = $1', [plan]);
      });
    }
  });

  it('refuses an export of another schema version, naming both', async () => {
    const dir = `${scratchPath('version')}/`;
    expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', dir)).status).toBe(0);
    const manifest = await readManifest(dir);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...manifest, schemaVersion: '0009_tenant_rls_helper' }));
    const result = await cliOn(second, 'tenant', 'import', '--in', dir, '--tenant-id', '77');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`The export was made at schema version 0009_tenant_rls_helper; this database is at ${await latestMigration()}`);
  });
});

/** The deletion records of a tenant, as the owner reads them. */
const deletionRecords = (tenantId: string) =>
  withOwnerClient(
    async (client) => (await client.query('select * from tenant_deletions where deleted_tenant_id = $1 order by started_at', [tenantId])).rows,
  );

describe('cli tenant delete', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('with --dry-run prints the counts and changes nothing', async () => {
    const tenant = await seededTenant();
    const before = await snapshotTenants([tenant.id]);
    const counts = await countRows(tenant.id);
    const result = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name, '--dry-run');
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).dryRun.rows).toMatchObject(counts);
    expect(await snapshotTenants([tenant.id])).toEqual(before);
    expect(await countRows(tenant.id)).toEqual(counts);
    expect(await deletionRecords(tenant.id)).toEqual([]);
  });

  it('refuses a wrong confirmation and an unknown tenant', async () => {
    const tenant = await seededTenant();
    const wrong = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name.toUpperCase());
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`--confirm does not match the name of tenant ${tenant.id}`);
    expect(await countRows(tenant.id)).toMatchObject({ 'public.tenants': 1 });
    const unknown = await cli('tenant', 'delete', '--tenant', '4242', '--confirm', 'x');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('No tenant 4242 in this database.');
    expect((await cli('tenant', 'delete', '--tenant', tenant.id)).status).toBe(2);
  });

  it('deletes every row of the tenant, audit events included, keeps a deletion record, stops its tokens, and leaves other tenants alone', async () => {
    const [tenant, other] = await Promise.all([seededTenant(), seededTenant()]);
    // The tenant uses the API: its token works, and its requests leave audit events.
    const viewer = await server.client(tenant.admin.token).request(ViewerDocument);
    expect(viewer.errors).toBeUndefined();
    await server.audit.flush();
    const saved = `${scratchPath('before-delete')}/`;
    expect((await cli('tenant', 'export', '--tenant', tenant.id, '--out', saved)).status).toBe(0);
    const counts = await countRows(tenant.id);
    const otherBefore = await snapshotTenants([other.id]);
    const otherCounts = await countRows(other.id);

    const result = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name, '--operator', 'ops@example.test');
    expect(result.status, result.stderr).toBe(0);
    const { deleted } = JSON.parse(result.stdout);
    expect(deleted).toMatchObject({
      deletedTenantId: tenant.id,
      nameSha256: sha256Hex(tenant.name),
      status: 'completed',
      rowsBefore: counts,
      operator: 'ops@example.test',
      attempts: 1,
    });
    expect(Object.values(deleted.rowsAfter).every((n) => n === 0)).toBe(true);
    expect(Object.keys(deleted.rowsAfter)).toEqual(expect.arrayContaining(Object.keys(counts)));

    // Verified as the owner: no table with a tenant_id column (every tenant table) holds a row of it.
    expect(Object.values(await countRows(tenant.id)).every((n) => n === 0)).toBe(true);
    const records = await deletionRecords(tenant.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'completed', name_sha256: sha256Hex(tenant.name), rows_before: counts });
    // The other tenant's rows, audit events included, are untouched.
    expect(await snapshotTenants([other.id])).toEqual(otherBefore);
    expect(await countRows(other.id)).toEqual(otherCounts);

    // Its token stops working at once: the prologue's membership check finds no user.
    const refused = await server.post({ query: '{ viewer { user { id } } }' }, { authorization: `Bearer ${tenant.admin.token}` });
    expect(refused.status).toBe(401);
    expect(refused.json.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    // Its events after the deletion are no tenant rows: they land in refused_context_switches, not audit_events.
    await server.audit.flush();
    expect((await countRows(tenant.id))['public.audit_events']).toBe(0);

    // Idempotent: a second run reports the record and succeeds.
    const again = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name);
    expect(again.status, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).deleted.id).toBe(deleted.id);

    // Its export can bring it back, but not unnoticed.
    const restored = await cli('tenant', 'import', '--in', saved);
    expect(restored.status, restored.stderr).toBe(0);
    expect(restored.stderr).toContain(`import: warning: tenant ${tenant.id} was deleted from this database at`);
    expect(restored.stderr).toContain(`(deletion record ${deleted.id}); this import brings its data back`);
  });

  it('waits for the tenant’s write in flight and deletes it too; a later write fails', async () => {
    const tenant = await seededTenant();
    const writer = new pg.Client({ connectionString: inject('ownerUrl') });
    await writer.connect();
    try {
      await writer.query('begin');
      await enterTenant(writer, tenant.id);
      await writer.query(
        `insert into messages (conversation_id, author_id, body) select id, created_by, 'in flight' from conversations where tenant_id = $1 limit 1`,
        [tenant.id],
      );
      const deletion = cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name);
      // The insert's foreign key holds FOR KEY SHARE on the tenant row: the deletion's FOR UPDATE waits for it.
      await vi.waitFor(
        async () =>
          expect(
            await withOwnerClient(
              async (client) =>
                (
                  await client.query(
                    `select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock' and query like 'select 1 from tenants where id = $1 for update'`,
                    [DELETE_APPLICATION_NAME],
                  )
                ).rows,
            ),
          ).toHaveLength(1),
        { timeout: 20_000, interval: 50 },
      );
      await writer.query('commit');
      const result = await deletion;
      expect(result.status, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).deleted.rowsBefore['public.messages']).toBe(13);
      expect(Object.values(await countRows(tenant.id)).every((n) => n === 0)).toBe(true);
      await writer.query('begin');
      await enterTenant(writer, tenant.id);
      await expect(
        writer.query(`insert into audit_events (created_at, request_id, outcome, duration_ms) values (now(), 'late', 'committed', 1)`),
      ).rejects.toMatchObject({
        code: '23503',
      });
      await writer.query('rollback');
    } finally {
      await writer.end();
    }
  });

  it('completes a deletion killed after its delete committed, checking the confirmation against the recorded name hash', async () => {
    const tenant = await seededTenant();
    const counts = await countRows(tenant.id);
    // What a run killed between its delete transaction and its verification leaves: a pending record, no rows.
    await withOwnerClient(async (client) => {
      await client.query('insert into tenant_deletions (deleted_tenant_id, name_sha256, rows_before, operator) values ($1, $2, $3, $4)', [
        tenant.id,
        sha256Hex(tenant.name),
        JSON.stringify(counts),
        'killed run',
      ]);
      // Every tenant table, children first (the order deletion uses), whether or not its foreign keys cascade.
      for (const table of (await listTenantTableLayouts(client)).reverse()) {
        await client.query(`delete from ${table.qualifiedName} where ${client.escapeIdentifier(table.tenantColumn)} = $1`, [tenant.id]);
      }
    });
    const wrong = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', 'not the name');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('whose unfinished deletion is recorded');
    const resumed = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name, '--operator', 'second run');
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).deleted).toMatchObject({ status: 'completed', rowsBefore: counts, operator: 'second run', attempts: 2 });
  });

  it('completes a deletion whose process was killed midway', async () => {
    const tenant = await seededTenant();
    const counts = await countRows(tenant.id);
    // The test holds a lock on one of the tenant's users, so the deletion stops at `delete from users`, after it
    // deleted the messages, conversations and audit events in its (uncommitted) transaction.
    const blocker = new pg.Client({ connectionString: inject('ownerUrl') });
    await blocker.connect();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from users where tenant_id = $1 for update', [tenant.id]);
      child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name], {
        cwd: REPOSITORY_ROOT,
        env: childEnv({ DATABASE_URL: inject('ownerUrl'), DATABASE_URL_APP: inject('appUrl'), JWT_SECRET: TEST_JWT_SECRET }),
        stdio: 'pipe',
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await vi.waitFor(
        async () => {
          // Another connection: pg_stat_activity is a snapshot taken once per transaction, and the blocker's stays open.
          const rows = await withOwnerClient(
            async (client) =>
              (
                await client.query(
                  `select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock' and query like 'delete from public.users%'`,
                  [DELETE_APPLICATION_NAME],
                )
              ).rows,
          );
          expect(rows, stderr).toHaveLength(1);
        },
        { timeout: 20_000, interval: 50 },
      );
      expect(stderr).toContain('delete: public.messages 12 rows');
      child.kill('SIGKILL');
      expect(await exited(child)).toBe('SIGKILL');
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await blocker.query('rollback');
      await blocker.end();
    }
    // Its backend rolls back once it notices the client is gone; nothing of the tenant was deleted.
    await vi.waitFor(
      async () =>
        expect(
          await withOwnerClient(
            async (client) => (await client.query('select 1 from pg_stat_activity where application_name = $1', [DELETE_APPLICATION_NAME])).rows,
          ),
        ).toEqual([]),
      { timeout: 30_000, interval: 50 },
    );
    expect(await countRows(tenant.id)).toEqual(counts);
    expect(await deletionRecords(tenant.id)).toMatchObject([{ status: 'pending', rows_before: counts, attempts: 1 }]);

    const resumed = await cli('tenant', 'delete', '--tenant', tenant.id, '--confirm', tenant.name);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('resuming the unfinished deletion');
    expect(Object.values(await countRows(tenant.id)).every((n) => n === 0)).toBe(true);
    expect(await deletionRecords(tenant.id)).toMatchObject([{ status: 'completed', rows_before: counts, attempts: 2 }]);
  }, 90_000);
});
