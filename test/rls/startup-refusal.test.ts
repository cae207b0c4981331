import pg from 'pg';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/create-server.js';
import { AccessPathRefusal } from '../../src/server/access-path-check.js';
import { createTestDatabase, type TestDatabase } from '../../scripts/lib/scratch-database.js';
import { UnsafeDatabaseError } from '../../src/db/safety-check.js';
import { exited, spawnServer } from '../support/processes.js';
import { productionServerOptions, TEST_JWT_SECRET } from '../support/server.js';

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

const options = productionServerOptions;

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
      await client.query("create table global_notes (id int, code text check (code in ('a')))");
      await client.query('grant select, insert on global_notes to tenantgraph_app, tenantgraph_operator');
    });
    try {
      await expect(startServer(options(database.appUrl))).rejects.toThrow(
        /tenantgraph_app can read or change global_notes \(relkind r\), which is not a tenant table/,
      );
      // An append-only sink, as refused_context_switches is: the app role can never read back what it wrote.
      await owner((client) => client.query('revoke select on global_notes from tenantgraph_app, tenantgraph_operator'));
      const server = await startServer(options(database.appUrl));
      await server.close();
      // ...as long as nothing it may write is free text.
      await owner((client) => client.query('alter table global_notes add column body text'));
      await expect(startServer(options(database.appUrl))).rejects.toThrow(/may insert free text into global_notes\.body \(text\)/);
    } finally {
      await owner((client) => client.query('drop table global_notes'));
    }
  });

  it('refuses a module whose write the app role may not run (a forgotten GRANT INSERT), naming the path and the GRANT', async () => {
    await owner((client) => client.query('revoke insert on conversations from tenantgraph_app, tenantgraph_operator'));
    try {
      const refusal = await startServer(options(database.appUrl)).then(
        async (server) => {
          await server.close();
          return null;
        },
        (error: unknown) => error as Error,
      );
      expect(refusal).toBeInstanceOf(AccessPathRefusal);
      expect(refusal!.message).toMatch(
        /Access path insertConversation: the app role may not INSERT conversations .*Fix: add `GRANT INSERT ON conversations TO tenantgraph_app, tenantgraph_operator;` to a migration/,
      );
    } finally {
      await owner((client) => client.query('grant insert on conversations to tenantgraph_app, tenantgraph_operator'));
    }
    const server = await startServer(options(database.appUrl));
    await server.close();
  });

  /** Runs `setup` as the owner, expects start-up to refuse naming `problem`, then runs `cleanup` and starts. */
  async function expectRefusal(setup: string[], problem: RegExp, cleanup: string[]): Promise<void> {
    await owner(async (client) => {
      for (const statement of setup) await client.query(statement);
    });
    try {
      const refusal = await startServer(options(database.appUrl)).then(
        async (server) => {
          await server.close();
          return null;
        },
        (error: unknown) => error as Error,
      );
      expect(refusal).toBeInstanceOf(UnsafeDatabaseError);
      expect(refusal!.message).toMatch(problem);
    } finally {
      await owner(async (client) => {
        for (const statement of cleanup) await client.query(statement);
      });
    }
    const server = await startServer(options(database.appUrl));
    await server.close();
  }

  it('refuses a tenant table whose RESTRICTIVE policy is USING (true) (issue 10: every tenant saw every label)', async () => {
    await expectRefusal(
      [
        'create table scratch_tags (tenant_id bigint not null default app.current_tenant_id() references tenants (id), id uuid not null default gen_random_uuid(), name text, primary key (tenant_id, id))',
        'alter table scratch_tags enable row level security',
        'alter table scratch_tags force row level security',
        'create policy tenant_rows on scratch_tags using (true) with check (true)',
        'create policy tenant_isolation on scratch_tags as restrictive using (true) with check (true)',
        'grant select, insert on scratch_tags to tenantgraph_app, tenantgraph_operator',
      ],
      /public\.scratch_tags: no RESTRICTIVE policy FOR ALL TO PUBLIC with USING and WITH CHECK exactly \(tenant_id = \(SELECT app\.current_tenant_id\(\)\)\)/,
      ['drop table scratch_tags'],
    );
  });

  it('refuses a unique key without tenant_id and a single-column foreign key (issue 10), with both problems listed', async () => {
    await expectRefusal(
      [
        'create table scratch_tags (tenant_id bigint not null default app.current_tenant_id() references tenants (id), id uuid not null default gen_random_uuid(), primary key (tenant_id, id), unique (id))',
        'create table scratch_conversation_tags (tenant_id bigint not null default app.current_tenant_id() references tenants (id), label_id uuid not null references scratch_tags (id), primary key (tenant_id, label_id))',
        "select app.enable_tenant_rls('scratch_tags')",
        "select app.enable_tenant_rls('scratch_conversation_tags')",
        'grant select on scratch_tags, scratch_conversation_tags to tenantgraph_app, tenantgraph_operator',
      ],
      /public\.scratch_tags: key scratch_tags_id_key does not lead with tenant_id.*\n.*public\.scratch_conversation_tags: foreign key scratch_conversation_tags_label_id_fkey does not include the tenant column/s,
      ['drop table scratch_conversation_tags', 'drop table scratch_tags'],
    );
  });

  it('refuses a tenant table the app role cannot SELECT (a forgotten GRANT)', async () => {
    await expectRefusal(
      [
        'create table scratch_tags (tenant_id bigint not null default app.current_tenant_id() references tenants (id), id uuid not null default gen_random_uuid(), primary key (tenant_id, id))',
        "select app.enable_tenant_rls('scratch_tags')",
      ],
      /tenantgraph_app cannot SELECT from public\.scratch_tags.*Fix: GRANT SELECT/,
      ['drop table scratch_tags'],
    );
  });

  it('refuses a view without security_invoker and a SECURITY DEFINER function the app role may call', async () => {
    await expectRefusal(
      [
        'create view all_messages as select * from messages',
        'grant select on all_messages to tenantgraph_app, tenantgraph_operator',
        "create function app.count_everything() returns bigint language sql security definer as 'select count(*) from messages'",
        'grant execute on function app.count_everything() to tenantgraph_app, tenantgraph_operator',
      ],
      /can use view all_messages, which lacks security_invoker.*\n.*may execute SECURITY DEFINER function app\.count_everything\(\)/s,
      ['drop view all_messages', 'drop function app.count_everything()'],
    );
  });

  it('accepts the same view with security_invoker: it reads under the caller’s policies', async () => {
    await owner(async (client) => {
      await client.query('create view own_messages with (security_invoker = true) as select * from messages');
      await client.query('grant select on own_messages to tenantgraph_app, tenantgraph_operator');
    });
    try {
      const server = await startServer(options(database.appUrl));
      await server.close();
    } finally {
      await owner((client) => client.query('drop view own_messages'));
    }
  });

  it('npm start prints every problem with its fix and no stack trace, and exits 1', async () => {
    await owner((client) => client.query('create table unprotected_notes (tenant_id bigint, body text)'));
    try {
      const child = spawnServer({
        DATABASE_URL: database.ownerUrl,
        DATABASE_URL_APP: database.appUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        SEED_DEMO_DATA: 'false',
        PORT: '0',
        HOST: '127.0.0.1',
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      expect(await exited(child)).toBe(1);
      expect(stderr).toMatch(/^Refusing to start: the app database connection is not isolated by Row Level Security\.$/m);
      for (const problem of [
        'public.unprotected_notes: Row Level Security is not enabled. Fix:',
        'public.unprotected_notes: Row Level Security is not forced',
        'public.unprotected_notes: tenant_id is nullable',
        'public.unprotected_notes: tenant_id defaults to nothing',
        'public.unprotected_notes: no RESTRICTIVE policy',
        'tenantgraph_app cannot SELECT from public.unprotected_notes',
      ]) {
        expect(stderr).toContain(`  - ${problem}`);
      }
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      await owner((client) => client.query('drop table unprotected_notes'));
    }
  }, 60_000);

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
