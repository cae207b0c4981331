import { describe, expect, it } from 'vitest';
import { usePreparedStatements } from '../../src/db/prepared-statements.js';

describe('usePreparedStatements (DATABASE_PREPARED_STATEMENTS)', () => {
  it('follows an explicit on or off whatever the URL says', () => {
    expect(usePreparedStatements('on', 'postgres://app@pgbouncer.internal:6432/db?pgbouncer=true')).toBe(true);
    expect(usePreparedStatements('off', 'postgres://app@db.internal:5432/db')).toBe(false);
  });

  it('prepares on a direct connection when auto', () => {
    expect(usePreparedStatements('auto', 'postgres://app@127.0.0.1:5432/db')).toBe(true);
    expect(usePreparedStatements('auto', 'postgres://app@db.internal/db?sslmode=require')).toBe(true);
    expect(usePreparedStatements('auto', 'postgres://app@db.internal/db?pgbouncer=false')).toBe(true);
  });

  it('does not prepare when auto and the URL points at a pooler', () => {
    expect(usePreparedStatements('auto', 'postgres://app@127.0.0.1:6439/db?pgbouncer=true')).toBe(false);
    expect(usePreparedStatements('auto', 'postgres://app@pgbouncer.internal:5432/db')).toBe(false);
    expect(usePreparedStatements('auto', 'postgres://app@ep-1.eu-central-1.aws-pooler.example.com/db')).toBe(false);
    expect(usePreparedStatements('auto', 'postgres://app@10.0.0.5:6432/db')).toBe(false);
  });
});
