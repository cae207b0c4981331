import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, type Compilable } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { APP_ROLE } from '../../src/db/tenant-catalog.js';
import type { AccessPath } from '../../src/modules/access-path.js';
import { ACCESS_PATHS } from '../../src/modules/index.js';
import { findAccessPathProblems } from '../../src/server/access-path-check.js';
import { withOwnerClient } from '../support/owner-db.js';

// Issue 10 §2 ("the app role lacking the grants its module needs"): start-up plans every access path of the
// registered modules as the app role (src/server/access-path-check.ts). The negative controls use a scratch table
// of their own, committed (the check runs on its own connection) and dropped afterwards; it has no tenant_id, so
// no other test's catalog checks see it.

const scratch = `scratch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
let app: Kysely<any>;

beforeAll(async () => {
  await withOwnerClient(async (client) => {
    await client.query(`create table public.${scratch} (id uuid primary key, note text)`);
    await client.query(`grant select on public.${scratch} to ${APP_ROLE}`);
  });
  app = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: inject('appUrl'), max: 1 }) }) });
});

afterAll(async () => {
  await app?.destroy();
  await withOwnerClient((client) => client.query(`drop table if exists public.${scratch}`));
});

/** A path on the scratch table; the builder is typed for the product's tables, the scratch one is not among them. */
const onScratch = (name: string, build: (db: Kysely<any>) => Compilable): AccessPath => ({
  name,
  write: true,
  query: (tx) => build(tx as unknown as Kysely<any>),
});

describe('start-up plans every access path as the app role', () => {
  it('finds nothing wrong with the registered modules: every read and write plans with the grants the migrations give', async () => {
    expect(ACCESS_PATHS.some((path) => path.write)).toBe(true);
    expect(await findAccessPathProblems(app, ACCESS_PATHS)).toEqual([]);
  });

  it('names the path, the missing privilege, the table and the GRANT to add when the migration forgot it', async () => {
    const paths = [
      onScratch('readScratch', (db) => db.selectFrom(scratch).selectAll()),
      onScratch('insertScratch', (db) => db.insertInto(scratch).values({ id: randomUUID(), note: 'x' })),
      onScratch('updateScratch', (db) => db.updateTable(scratch).set({ note: 'y' }).where('id', '=', randomUUID())),
      onScratch('deleteScratch', (db) => db.deleteFrom(scratch).where('id', '=', randomUUID())),
    ];
    expect(await findAccessPathProblems(app, paths)).toEqual(
      ['INSERT', 'UPDATE', 'DELETE'].map((privilege) =>
        expect.stringMatching(
          new RegExp(
            `^Access path ${privilege.toLowerCase()}Scratch: the app role may not ${privilege} ${scratch} .*` +
              `Fix: add \`GRANT ${privilege} ON ${scratch} TO tenantgraph_app, tenantgraph_operator;\` to a migration`,
          ),
        ),
      ),
    );
  });

  it('names a path whose statement does not plan at all (a column that does not exist), and goes on to the others', async () => {
    const paths = [
      onScratch('misspelt', (db) => db.selectFrom(scratch).select('nope')),
      onScratch('fine', (db) => db.selectFrom(scratch).select('note')),
    ];
    expect(await findAccessPathProblems(app, paths)).toEqual([
      expect.stringMatching(/^Access path misspelt does not plan as the app role: column "nope" does not exist \(SQLSTATE 42703\)/),
    ]);
  });

  it('executes nothing: a write path that would insert leaves no row', async () => {
    await withOwnerClient((client) => client.query(`grant insert on public.${scratch} to ${APP_ROLE}`));
    const id = randomUUID();
    expect(await findAccessPathProblems(app, [onScratch('insertScratch', (db) => db.insertInto(scratch).values({ id, note: 'x' }))])).toEqual([]);
    const { rows } = await withOwnerClient((client) => client.query(`select count(*)::int as n from public.${scratch}`));
    expect(rows).toEqual([{ n: 0 }]);
  });
});
