import pg from 'pg';
import { GraphQLError } from 'graphql';
import { describe, expect, inject, it } from 'vitest';
import pino from 'pino';
import { missingPrivilegeOf } from '../../src/errors/database-errors.js';
import { formatError, loggingFormatError } from '../../src/server/plugins/error-plugin.js';
import { createTestTenant } from '../support/tenants.js';

/**
 * Forces each database error for real, as the app role inside a tenant transaction, and passes it through the
 * server's error policy exactly as a resolver error would arrive there.
 */
async function databaseError(tenantId: string, userId: string, statements: string[]): Promise<unknown> {
  const client = new pg.Client({ connectionString: inject('appUrl') });
  await client.connect();
  try {
    await client.query('begin');
    await client.query("select set_config('app.current_tenant', $1, true), set_config('app.current_user', $2, true)", [tenantId, userId]);
    for (const statement of statements) await client.query(statement);
    throw new Error('expected a database error');
  } catch (error) {
    return error;
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
}

function asClientSees(error: unknown) {
  const wrapped = new GraphQLError((error as Error).message, { originalError: error as Error, path: ['field'] });
  return formatError(wrapped.toJSON(), wrapped);
}

describe('formatError for PostgreSQL errors', () => {
  it('maps each forced SQLSTATE to a stable code and a plain sentence without SQL, names or values', async () => {
    const tenant = await createTestTenant();
    const other = await createTestTenant();
    const cases: { name: string; statements: string[]; sqlstate: string; code: string; sentence: RegExp }[] = [
      {
        name: 'invalid text representation',
        statements: ["select * from users where id = 'not-a-uuid'"],
        sqlstate: '22P02',
        code: 'BAD_USER_INPUT',
        sentence: /invalid format/,
      },
      {
        name: 'unique violation',
        statements: [`insert into users (email, display_name) values ('${tenant.admin.email.toUpperCase()}', 'Dup')`],
        sqlstate: '23505',
        code: 'BAD_USER_INPUT',
        sentence: /^A user with this email already exists in your tenant\.$/,
      },
      {
        name: 'foreign key violation',
        statements: [`insert into conversations (title, created_by) values ('x', '${other.admin.id}')`],
        sqlstate: '23503',
        code: 'NOT_FOUND',
        sentence: /does not exist/,
      },
      {
        name: 'RLS violation',
        statements: [`insert into conversations (tenant_id, title, created_by) values (${other.id}, 'hijack', '${other.admin.id}')`],
        sqlstate: '42501',
        code: 'FORBIDDEN',
        sentence: /permission/,
      },
      {
        name: 'statement timeout',
        statements: ["set local statement_timeout = '50ms'", 'select pg_sleep(2)'],
        sqlstate: '57014',
        code: 'SERVICE_UNAVAILABLE',
        sentence: /took too long/,
      },
    ];
    for (const testCase of cases) {
      const error = await databaseError(tenant.id, tenant.admin.id, testCase.statements);
      expect((error as { code?: string }).code, testCase.name).toBe(testCase.sqlstate);
      const seen = asClientSees(error);
      expect(seen.extensions?.code, testCase.name).toBe(testCase.code);
      expect(seen.message, testCase.name).toMatch(testCase.sentence);
      const text = JSON.stringify(seen);
      for (const leak of ['select', 'insert', 'users_tenant_email_key', 'fkey', other.admin.id, other.id, 'policy', 'stack']) {
        expect(text.toLowerCase(), `${testCase.name} leaks ${leak}`).not.toContain(leak.toLowerCase());
      }
    }
  });

  it('answers FORBIDDEN for a row refused by RLS but INTERNAL_SERVER_ERROR for a missing grant (both SQLSTATE 42501)', async () => {
    const tenant = await createTestTenant();
    const other = await createTestTenant();
    const refused = await databaseError(tenant.id, tenant.admin.id, [
      `insert into conversations (tenant_id, title, created_by) values (${other.id}, 'hijack', '${other.admin.id}')`,
    ]);
    // The app role has SELECT and INSERT on audit_events, never UPDATE (the trail is append-only): a real missing grant.
    const ungranted = await databaseError(tenant.id, tenant.admin.id, ["update audit_events set outcome = 'committed'"]);
    expect([(refused as { code?: string }).code, (ungranted as { code?: string }).code]).toEqual(['42501', '42501']);
    expect(missingPrivilegeOf(refused)).toBeUndefined();
    expect(missingPrivilegeOf(ungranted)).toBe('table audit_events');
    expect(asClientSees(refused).extensions?.code).toBe('FORBIDDEN');
    expect(asClientSees(ungranted)).toEqual({
      message: expect.stringMatching(/^Internal server error/),
      path: ['field'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('logs a missing grant with the object it is missing on', async () => {
    const tenant = await createTestTenant();
    const ungranted = await databaseError(tenant.id, tenant.admin.id, ["update audit_events set outcome = 'committed'"]);
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const wrapped = new GraphQLError((ungranted as Error).message, { originalError: ungranted as Error, path: ['field'] });
    loggingFormatError(logger)(wrapped.toJSON(), wrapped);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, missingPrivilege: 'table audit_events', msg: expect.stringContaining('table audit_events') });
  });

  it('masks an unexpected error as INTERNAL_SERVER_ERROR', () => {
    const seen = asClientSees(Object.assign(new Error('relation "secret_table" does not exist'), { code: '42P01' }));
    expect(seen).toEqual({
      message: expect.stringMatching(/^Internal server error/),
      path: ['field'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });
});
