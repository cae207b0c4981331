import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { isUnavailable } from '../src/audit/audit-batch-writer.js';

// What the audit writer retries (the database was unavailable) and what it isolates as bad data. The errors are
// PostgreSQL's own, raised on a real connection.
async function errorOf(sql: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: inject('appUrl') });
  await client.connect();
  try {
    return await client.query(sql).then(
      () => undefined,
      (error: unknown) => error,
    );
  } finally {
    await client.end();
  }
}

describe('isUnavailable', () => {
  it.each([
    ['a check violation (23514)', "do $$ begin raise exception 'bad' using errcode = '23514'; end $$"],
    ['a foreign-key violation (23503)', "do $$ begin raise exception 'fk' using errcode = '23503'; end $$"],
    ['invalid text for a type (22P02)', "select 'x'::uuid"],
    ['a privilege error (42501)', 'truncate audit_events'],
  ])('is false for %s: that event is bad data, isolated and rejected', async (_name, sql) => {
    const error = await errorOf(sql);
    expect((error as { code?: string }).code).toMatch(/^[0-9A-Z]{5}$/);
    expect(isUnavailable(error)).toBe(false);
  });

  it.each([
    ['a statement timeout (57014)', 'set statement_timeout = 1; select pg_sleep(1)'],
    ['a deadlock or serialization failure (40P01)', "do $$ begin raise exception 'deadlock' using errcode = '40P01'; end $$"],
  ])('is true for %s: the events are written again later', async (_name, sql) => {
    expect(isUnavailable(await errorOf(sql))).toBe(true);
  });

  it('is true for a refused connection (no SQLSTATE) and false for a value that cannot be inlined (TypeError)', async () => {
    const refused = await new pg.Client({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }).connect().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isUnavailable(refused)).toBe(true);
    expect(isUnavailable(new TypeError('Tenant id must be a positive 64-bit decimal integer, received "x"'))).toBe(false);
  });
});
