import pg from 'pg';
import { connectClient } from '../../src/db/guarded-client.js';

/**
 * The benchmark's data set, generated inside PostgreSQL with set-based SQL (generate_series, INSERT ... SELECT)
 * through a superuser connection, which bypasses RLS and may switch triggers off.
 *
 * Shape: tenant sizes follow Zipf's law (rank r gets a share proportional to r^-s: a few large tenants, a long
 * tail of small ones), or are all equal (the scale curve, where only the number of tenants may vary). Each
 * tenant gets users (about sqrt(messages)/2), conversations (about one per 40 messages, every tenth archived)
 * and messages spread over the last year. Rows are inserted in created_at order, interleaving tenants as real
 * traffic does, so no tenant's rows sit conveniently together on disk.
 *
 * Consistency: `conversations.message_count` is computed with the plan and the messages are generated from it,
 * so the counter the trigger maintains is exact although triggers (and FK checks) are off during the load
 * (`session_replication_role = replica`): the rows are generated consistent by construction.
 */
export interface ZipfShape {
  kind: 'zipf';
  tenants: number;
  /** Total messages (at least; small tenants get a minimum). */
  messages: number;
  /** Zipf exponent s. */
  exponent: number;
}

export interface UniformShape {
  kind: 'uniform';
  tenants: number;
  usersPerTenant: number;
  conversationsPerTenant: number;
  messagesPerTenant: number;
}

export interface LoadReport {
  tenants: number;
  users: number;
  conversations: number;
  messages: number;
  largestTenantMessages: number;
  medianTenantMessages: number;
  smallestTenantMessages: number;
  seconds: { load: number; analyze: number };
}

/** One tenant as the workloads see it. */
export interface BenchTenant {
  rank: number;
  tenantId: string;
  /** The member the tenant's token speaks for. */
  userId: string;
  messages: number;
  /** Non-archived conversations of the tenant (a sample), targets of Q2 and M1. */
  conversationIds: string[];
}

const MIN_MESSAGES = 10;

// A bijection of ranks onto 12-digit ids (2654435761 is prime and does not divide 9e11): tenant ids are scattered
// over the key space like the random ids the API assigns, not consecutive.
const TENANT_ID_OF_RANK = '(100000000000 + (r::numeric * 2654435761) % 900000000000)::bigint';

/**
 * Adds `shape.tenants` tenants after the ones already loaded (ranks continue), then VACUUM ANALYZE.
 * Loading in steps lets the scale curve grow one database from 100 to 10,000 tenants.
 */
export async function loadTenants(ownerUrl: string, shape: ZipfShape | UniformShape): Promise<LoadReport> {
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-seed' });
  try {
    const started = performance.now();
    await client.query(`
      create table if not exists bench_plan (
        rank int primary key, tenant bigint not null unique, users int not null, conversations int not null,
        messages int not null, batch int not null)`);
    const { rows } = await client.query<{ first: number; batch: number }>(
      'select coalesce(max(rank), 0) + 1 as first, coalesce(max(batch), 0) + 1 as batch from bench_plan',
    );
    const { first, batch } = rows[0]!;
    const last = first + shape.tenants - 1;
    if (shape.kind === 'zipf') {
      await client.query(
        `insert into bench_plan (rank, tenant, users, conversations, messages, batch)
         select r, ${TENANT_ID_OF_RANK}, greatest(3, ceil(sqrt(m) / 2)), greatest(3, ceil(m / 40.0)), m, $5
           from (select r, greatest($4, ceil($1::float8 * power(r, -$2::float8) / sum(power(r, -$2::float8)) over ()))::int as m
                   from generate_series($3::int, $6::int) r) sized`,
        [shape.messages, shape.exponent, first, MIN_MESSAGES, batch, last],
      );
    } else {
      await client.query(
        `insert into bench_plan (rank, tenant, users, conversations, messages, batch)
         select r, ${TENANT_ID_OF_RANK}, $1, $2, $3, $4 from generate_series($5::int, $6::int) r`,
        [shape.usersPerTenant, shape.conversationsPerTenant, shape.messagesPerTenant, batch, first, last],
      );
    }

    await client.query('begin');
    // Superuser only: no triggers and no FK checks for this transaction's inserts (see the module comment).
    await client.query("set local session_replication_role = 'replica'");
    await client.query("set local work_mem = '256MB'");
    await client.query('select setseed(0.42)');
    await client.query(
      `insert into tenants (id, name, created_at)
       select tenant, 'Bench tenant ' || rank, now() - interval '2 years' from bench_plan where batch = $1`,
      [batch],
    );
    await client.query(
      `insert into users (tenant_id, id, email, display_name, role, created_at)
       select p.tenant, md5('u:' || p.tenant || ':' || k)::uuid, 'user' || k || '@tenant' || p.rank || '.bench',
              'User ' || k || ' of tenant ' || p.rank, (case when k = 1 then 'ADMIN' else 'MEMBER' end)::user_role,
              now() - interval '2 years' + k * interval '1 minute'
         from bench_plan p, generate_series(1, p.users) k
        where p.batch = $1`,
      [batch],
    );
    await client.query(
      `insert into conversations (tenant_id, id, title, archived, created_by, created_at, message_count)
       select p.tenant, md5('c:' || p.tenant || ':' || j)::uuid, 'Conversation ' || j || ' of tenant ' || p.rank,
              j % 10 = 0, md5('u:' || p.tenant || ':' || (1 + j % p.users))::uuid,
              now() - interval '1 hour' - interval '365 days' * random(),
              p.messages / p.conversations + (case when j <= p.messages % p.conversations then 1 else 0 end)
         from bench_plan p, generate_series(1, p.conversations) j
        where p.batch = $1
        order by 6`,
      [batch],
    );
    // Building an index once from sorted input is far cheaper than a million random insertions into it.
    const rebuild = await dropIndexes(client, 'messages');
    await client.query(
      `insert into messages (tenant_id, id, conversation_id, author_id, body, created_at)
       select c.tenant_id, gen_random_uuid(), c.id,
              md5('u:' || c.tenant_id || ':' || (1 + (k + abs(hashtext(c.id::text))) % p.users))::uuid,
              'Message ' || k || ' in ' || c.title || ': ' || left(repeat('lorem ipsum dolor sit amet ', 10), 20 + (k * 37) % 200),
              c.created_at + (now() - c.created_at) * (k::float8 / (c.message_count + 1))
         from bench_plan p
         join conversations c on c.tenant_id = p.tenant
         cross join lateral generate_series(1, c.message_count) k
        where p.batch = $1
        order by 6`,
      [batch],
    );
    for (const statement of rebuild) await client.query(statement);
    await client.query('commit');
    const loaded = performance.now();
    await client.query('vacuum analyze tenants, users, conversations, messages');
    const analyzed = performance.now();

    const { rows: totals } = await client.query<Omit<LoadReport, 'seconds'>>(
      `select count(*)::int as tenants, sum(users)::int as users, sum(conversations)::int as conversations,
              sum(messages)::int as messages, max(messages) as "largestTenantMessages",
              (percentile_disc(0.5) within group (order by messages)) as "medianTenantMessages",
              min(messages) as "smallestTenantMessages"
         from bench_plan`,
    );
    return {
      ...totals[0]!,
      seconds: { load: round((loaded - started) / 1000), analyze: round((analyzed - loaded) / 1000) },
    };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/** Every loaded tenant with its token's user and up to `sample` non-archived conversation ids. */
export async function listBenchTenants(ownerUrl: string, sample = 16): Promise<BenchTenant[]> {
  const client = await connectClient({ connectionString: ownerUrl, application_name: 'tenantgraph-bench-seed' });
  try {
    const { rows } = await client.query<{ rank: number; tenant_id: string; user_id: string; messages: number; conversation_ids: string[] }>(
      `select p.rank, p.tenant::text as tenant_id, md5('u:' || p.tenant || ':' || (1 + p.rank % p.users))::uuid::text as user_id,
              p.messages,
              array(select c.id::text from conversations c
                     where c.tenant_id = p.tenant and not c.archived
                     order by md5(c.id::text) limit $1) as conversation_ids
         from bench_plan p
        order by p.rank`,
      [sample],
    );
    return rows.map((row) => ({
      rank: row.rank,
      tenantId: row.tenant_id,
      userId: row.user_id,
      messages: row.messages,
      conversationIds: row.conversation_ids,
    }));
  } finally {
    await client.end();
  }
}

/**
 * Drops a table's indexes (primary key and unique constraints included) inside the caller's transaction and
 * returns the statements that recreate them exactly as the migrations defined them.
 */
async function dropIndexes(client: pg.Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ index: string; indexdef: string; constraint: string | null; condef: string | null }>(
    `select i.indexrelid::regclass::text as index, pg_get_indexdef(i.indexrelid) as indexdef,
            c.conname as constraint, pg_get_constraintdef(c.oid) as condef
       from pg_index i
       left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid and c.contype in ('p', 'u')
      where i.indrelid = $1::regclass`,
    [table],
  );
  const rebuild: string[] = [];
  // Foreign keys of other tables that reference this one depend on its keys (realtime_events on messages): dropped
  // first and recreated last.
  const { rows: referencing } = await client.query<{ table: string; constraint: string; condef: string }>(
    `select conrelid::regclass::text as table, conname as constraint, pg_get_constraintdef(oid) as condef
       from pg_constraint where contype = 'f' and confrelid = $1::regclass and conrelid <> confrelid`,
    [table],
  );
  for (const row of referencing) await client.query(`alter table ${row.table} drop constraint "${row.constraint}"`);
  for (const row of rows) {
    if (row.constraint) {
      await client.query(`alter table ${table} drop constraint "${row.constraint}"`);
      rebuild.push(`alter table ${table} add constraint "${row.constraint}" ${row.condef}`);
    } else {
      await client.query(`drop index "${row.index}"`);
      rebuild.push(row.indexdef);
    }
  }
  for (const row of referencing) rebuild.push(`alter table ${row.table} add constraint "${row.constraint}" ${row.condef}`);
  return rebuild;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
