import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type ServerOptions } from '../../src/server/create-server.js';
import { createTestDatabase, type TestDatabase } from '../setup/test-database.js';
import { TEST_JWT_SECRET } from '../support/server.js';

// These tests make the database unsafe on purpose, so they get a database of their own.
let database: TestDatabase;
const roles: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  await owner(async (client) => {
    for (const role of roles) {
      await client.query(`drop owned by ${role} cascade`).catch(() => {});
      await client.query(`drop role if exists ${role}`);
    }
  });
  await database.drop();
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

function options(appUrl: string): ServerOptions {
  return {
    appUrl,
    port: 0,
    host: '127.0.0.1',
    production: true,
    introspection: false,
    jwt: { secret: TEST_JWT_SECRET, tenantClaim: 'tenant_id' },
    pool: { max: 1, acquireTimeoutMs: 3000 },
    transaction: { statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 10000 },
    bodyLimitBytes: 1_000_000,
    corsOrigins: [],
    logger: pino({ level: 'silent' }),
  };
}

/** A login role for this test only, with the app role's privileges plus `attributes`. */
async function loginRole(attributes: string): Promise<string> {
  const role = `tg_unsafe_${Math.random().toString(36).slice(2, 10)}`;
  roles.push(role);
  await owner(async (client) => {
    await client.query(`create role ${role} login password 'unsafe' ${attributes}`);
    await client.query(`grant tenantgraph_app to ${role}`);
  });
  const url = new URL(database.ownerUrl);
  url.username = role;
  url.password = 'unsafe';
  return url.toString();
}

describe('startServer (fail-closed startup)', () => {
  it('starts as the app role on a correctly migrated database', async () => {
    const server = await startServer(options(database.appUrl));
    await server.close();
  });

  it('refuses when DATABASE_URL_APP points at the owner (a superuser)', async () => {
    await expect(startServer(options(database.ownerUrl))).rejects.toThrow(/is a superuser.*DATABASE_URL_APP/s);
  });

  it('refuses a role with BYPASSRLS', async () => {
    const url = await loginRole('bypassrls');
    await expect(startServer(options(url))).rejects.toThrow(/BYPASSRLS/);
  });

  it('refuses a role that owns a table', async () => {
    const url = await loginRole('');
    const role = new URL(url).username;
    await owner(async (client) => {
      await client.query(`create table ${role}_owned (id int)`);
      await client.query(`alter table ${role}_owned owner to ${role}`);
    });
    try {
      await expect(startServer(options(url))).rejects.toThrow(new RegExp(`owns public\\.${role}_owned`));
    } finally {
      await owner((client) => client.query(`drop table ${role}_owned`));
    }
  });

  it('refuses while a table with tenant_id lacks forced Row Level Security', async () => {
    await owner((client) => client.query('create table unprotected_notes (tenant_id bigint not null, body text)'));
    try {
      await expect(startServer(options(database.appUrl))).rejects.toThrow(/public\.unprotected_notes/);
      await owner((client) => client.query('alter table unprotected_notes enable row level security'));
      await expect(startServer(options(database.appUrl))).rejects.toThrow(/public\.unprotected_notes/);
    } finally {
      await owner((client) => client.query('drop table unprotected_notes'));
    }
  });

  it('refuses while the app role can read a table that is not a tenant table, and accepts an insert-only one', async () => {
    await owner(async (client) => {
      await client.query('create table global_notes (id int, body text)');
      await client.query('grant select, insert on global_notes to tenantgraph_app');
    });
    try {
      await expect(startServer(options(database.appUrl))).rejects.toThrow(/can read or change public\.global_notes, which is not a tenant table/);
      // An append-only sink, as refused_context_switches is: the app role can never read back what it wrote.
      await owner((client) => client.query('revoke select on global_notes from tenantgraph_app'));
      const server = await startServer(options(database.appUrl));
      await server.close();
    } finally {
      await owner((client) => client.query('drop table global_notes'));
    }
  });

  it('refuses while the tenant policy of a table is not RESTRICTIVE', async () => {
    await owner(async (client) => {
      await client.query('begin');
      await client.query('drop policy tenant_isolation on messages');
      await client.query('commit');
    });
    try {
      await expect(startServer(options(database.appUrl))).rejects.toThrow(/public\.messages/);
    } finally {
      await owner((client) =>
        client.query(
          `create policy tenant_isolation on messages as restrictive for all
             using (tenant_id = (select app.current_tenant_id())) with check (tenant_id = (select app.current_tenant_id()))`,
        ),
      );
    }
  });
});
