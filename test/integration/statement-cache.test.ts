import type { KyselyPlugin } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createAppDatabase, type AppDatabase } from '../../src/db/kysely.js';
import { createPool } from '../../src/db/pool.js';
import { CachedStatement } from '../../src/db/statement-cache.js';
import type { KeysetWindow } from '../../src/graphql/keyset.js';
import * as conversations from '../../src/modules/conversations/queries.js';
import { findUsersByIds, findUsersByIdsQuery, listUsers, listUsersQuery } from '../../src/modules/directory/queries.js';
import * as messages from '../../src/modules/messages/queries.js';
import { beginTenantTransaction, commitOrRollBack, type TenantTransaction } from '../../src/tenancy/tenant-transaction.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// The statement cache (src/db/statement-cache.ts) against a real server: a shape is built once and its
// parameters filled per execution, a builder that reads a value it should pass through is caught, plugins see
// every statement, and the module statements the API runs give exactly their builders' SQL, parameters and rows
// over many generated arguments. (test/setup/verify-cached-statements.ts makes every cached execution in the
// suite's own processes compare itself with its builder too.)

const READ = { readOnly: true, statementTimeoutMs: 5000, idleInTransactionTimeoutMs: 5000 };
const WRITE = { ...READ, readOnly: false };
const opened: AppDatabase[] = [];

function database(options: Parameters<typeof createAppDatabase>[2] = {}): AppDatabase {
  const created = createAppDatabase(createPool({ connectionString: inject('appUrl'), max: 2 }), undefined, options);
  opened.push(created);
  return created;
}

afterAll(async () => {
  for (const created of opened.splice(0)) await created.db.destroy();
});

function inTenant<T>(db: AppDatabase, tenant: TestTenant, work: (tx: TenantTransaction) => Promise<T>, mode = READ): Promise<T> {
  return beginTenantTransaction(db, { tenantId: tenant.id, userId: tenant.admin.id }, mode).then((tx) => commitOrRollBack(tx, work));
}

/** A tenant with `count` conversations of `perConversation` messages each, written through the module's own inserts. */
async function seededTenant(
  db: AppDatabase,
  count: number,
  perConversation: number,
): Promise<{ tenant: TestTenant; conversationIds: string[]; messageIds: string[] }> {
  const tenant = await createTestTenant();
  const conversationIds: string[] = [];
  const messageIds: string[] = [];
  await inTenant(
    db,
    tenant,
    async (tx) => {
      for (let c = 0; c < count; c++) {
        const conversation = await conversations.insertConversation(tx, `conversation ${c}`, tenant.admin.id);
        conversationIds.push(conversation.id);
        for (let m = 0; m < perConversation; m++) {
          const message = await messages.insertMessage(tx, { conversationId: conversation.id, authorId: tenant.admin.id, body: `message ${c}.${m}` });
          messageIds.push(message!.id);
        }
      }
    },
    WRITE,
  );
  return { tenant, conversationIds, messageIds };
}

describe('CachedStatement', () => {
  it('builds a shape once and fills its parameters at each execution, under each tenant’s RLS', async () => {
    const db = database();
    const a = await seededTenant(db, 3, 0);
    const b = await seededTenant(db, 2, 0);
    const byIds = new CachedStatement(conversations.findConversationsByIdsQuery);
    const everyId = [...a.conversationIds, ...b.conversationIds];

    const first = await inTenant(db, a.tenant, (tx) => byIds.execute(tx, [a.conversationIds[0]!]));
    expect(first.map((row) => row.id)).toEqual([a.conversationIds[0]]);
    expect(byIds.cachedShapes).toBe(1);
    // The same shape with other values: from the cache, with this execution's parameters.
    const ofA = await inTenant(db, a.tenant, (tx) => byIds.execute(tx, everyId));
    const ofB = await inTenant(db, b.tenant, (tx) => byIds.execute(tx, everyId));
    expect(ofA.map((row) => row.id).sort()).toEqual([...a.conversationIds].sort());
    expect(ofB.map((row) => row.id).sort()).toEqual([...b.conversationIds].sort());
    expect(byIds.cachedShapes).toBe(1);
    await inTenant(db, a.tenant, async (tx) => {
      expect(byIds.compile(tx, everyId)).toMatchObject({
        sql: conversations.findConversationsByIdsQuery(tx, everyId).compile().sql,
        parameters: [everyId],
      });
    });
  });

  it('keys shapes by null-ness and the named shape properties, not by values', async () => {
    const db = database();
    const { tenant } = await seededTenant(db, 1, 0);
    const page = new CachedStatement(listUsersQuery, { shape: ['direction'] });
    const cursor = { createdAt: '2000-01-01T00:00:00Z', id: '00000000-0000-4000-8000-000000000000' };
    await inTenant(db, tenant, async (tx) => {
      for (const limit of [1, 5, 20]) {
        await page.execute(tx, { limit, cursor: null, direction: 'forward' });
        await page.execute(tx, { limit, cursor: null, direction: 'backward' });
        await page.execute(tx, { limit, cursor, direction: 'forward' });
      }
    });
    expect(page.cachedShapes).toBe(3);
  });

  it('does not cache a shape whose builder reads a value it should pass through (caught at its first execution)', async () => {
    const db = database();
    const { tenant } = await seededTenant(db, 0, 0);
    // Reads ids.length: with stand-ins for the values it builds another statement than with the values.
    const branching = new CachedStatement((tx: TenantTransaction, ids: readonly string[]) =>
      ids.length > 1 ? findUsersByIdsQuery(tx, ids) : tx.selectFrom('users').selectAll().where('id', '=', ids[0]!),
    );
    await inTenant(db, tenant, async (tx) => {
      expect((await branching.execute(tx, [tenant.admin.id])).map((row) => row.id)).toEqual([tenant.admin.id]);
      expect((await branching.execute(tx, [tenant.admin.id])).map((row) => row.id)).toEqual([tenant.admin.id]);
    });
    expect(branching.cachedShapes).toBe(0);
  });

  it('throws, in the test suite’s verify mode, when such a builder agreed at first and differs later', async () => {
    const db = database();
    const { tenant } = await seededTenant(db, 0, 0);
    // Clamps its limit: with a stand-in (not > 10) it passes it through, as it does with 5 at the first execution.
    const clamping = new CachedStatement(
      (tx: TenantTransaction, window: KeysetWindow) => listUsersQuery(tx, { ...window, limit: window.limit > 10 ? 10 : window.limit }),
      { shape: ['direction'] },
    );
    await inTenant(db, tenant, async (tx) => {
      await clamping.execute(tx, { limit: 5, cursor: null, direction: 'forward' });
      expect(clamping.cachedShapes).toBe(1);
      expect(() => clamping.compile(tx, { limit: 50, cursor: null, direction: 'forward' })).toThrow(/differs from its builder's/);
    });
  });

  it('builds every statement of a transaction with plugins, so that they see and rewrite each one', async () => {
    const seen: string[] = [];
    const tagging: KyselyPlugin = {
      transformQuery: (args) => {
        seen.push(args.node.kind);
        return args.node;
      },
      transformResult: (args) => Promise.resolve(args.result),
    };
    const db = database({ transactionPlugins: () => [tagging] });
    const { tenant } = await seededTenant(database(), 0, 0);
    const byIds = new CachedStatement(findUsersByIdsQuery);
    await inTenant(db, tenant, async (tx) => {
      await byIds.execute(tx, [tenant.admin.id]);
      await byIds.execute(tx, [tenant.admin.id]);
    });
    expect(seen.filter((kind) => kind === 'SelectQueryNode')).toHaveLength(2);
    expect(byIds.cachedShapes).toBe(0);
  });

  it('does not cache a call whose `uncached` property is set', async () => {
    const db = database();
    const { tenant } = await seededTenant(db, 2, 0);
    const page = new CachedStatement(conversations.listConversationsQuery, { shape: ['direction'], uncached: ['titleContains'] });
    const window: KeysetWindow = { limit: 10, cursor: null, direction: 'forward' };
    await inTenant(db, tenant, async (tx) => {
      expect(await page.execute(tx, { titleContains: 'conversation 1' }, window)).toHaveLength(1);
      expect(await page.execute(tx, { titleContains: 'conversation' }, window)).toHaveLength(2);
    });
    expect(page.cachedShapes).toBe(0);
  });
});

describe('the API’s cached statements', () => {
  // A seeded generator, so a failure names the arguments and repeats.
  let seed = 20261201;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

  it('give their builders’ rows for generated arguments (each execution also compared with its builder’s SQL and parameters)', async () => {
    const db = database();
    const { tenant, conversationIds, messageIds } = await seededTenant(db, 4, 3);
    const other = await seededTenant(db, 2, 2);
    const ids = (from: readonly string[]) => Array.from({ length: Math.floor(random() * 4) }, () => pick(from));
    const window = (): KeysetWindow => ({
      limit: 1 + Math.floor(random() * 6),
      cursor:
        random() < 0.5 ? null : { createdAt: pick(['2000-01-01T00:00:00Z', '2999-01-01T00:00:00Z', new Date().toISOString()]), id: pick(messageIds) },
      direction: pick(['forward', 'backward'] as const),
    });
    const filter = () => ({ ...(random() < 0.5 ? {} : { archived: pick([true, false, null]) }) });
    const anyIds = [...conversationIds, ...other.conversationIds];
    const anyMessageIds = [...messageIds, ...other.messageIds];

    await inTenant(db, tenant, async (tx) => {
      for (let round = 0; round < 40; round++) {
        const [c, w, m, f] = [ids(anyIds), window(), window(), filter()];
        const u = ids([tenant.admin.id, other.tenant.admin.id]);
        const mi = ids(anyMessageIds);
        expect(await conversations.findConversationsByIds(tx, c)).toEqual(await conversations.findConversationsByIdsQuery(tx, c).execute());
        expect(await conversations.listConversations(tx, f, w)).toEqual(await conversations.listConversationsQuery(tx, f, w).execute());
        expect(await conversations.countConversations(tx, f)).toEqual(
          (await conversations.countConversationsQuery(tx, f).executeTakeFirstOrThrow()).count,
        );
        expect(await conversations.listConversationsWithMessages(tx, f, w, m)).toHaveLength(
          new Set((await conversations.listConversationsWithMessagesQuery(tx, f, w, m).execute()).map((row) => row.id)).size,
        );
        expect(
          (await conversations.findConversationsWithMessagesByIds(tx, c, m)).flatMap((page) => page.messages.map((entry) => entry.message.id)),
        ).toEqual(
          (await conversations.findConversationsWithMessagesByIdsQuery(tx, c, m).execute()).flatMap((row) =>
            row.message__id ? [row.message__id] : [],
          ),
        );
        expect(await messages.findMessagesByIds(tx, mi)).toEqual(await messages.findMessagesByIdsQuery(tx, mi).execute());
        expect(await messages.listMessagesByConversations(tx, c, w)).toEqual(await messages.listMessagesByConversationsQuery(tx, c, w).execute());
        expect((await messages.listMessagesWithAuthorsByConversations(tx, c, w)).map((entry) => entry.message.id)).toEqual(
          (await messages.listMessagesWithAuthorsByConversationsQuery(tx, c, w).execute()).map((row) => row.id),
        );
        expect(await findUsersByIds(tx, u)).toEqual(await findUsersByIdsQuery(tx, u).execute());
        expect(await listUsers(tx, w)).toEqual(await listUsersQuery(tx, w).execute());
      }
    });
    // Another tenant's ids find nothing through the cache either.
    await inTenant(db, other.tenant, async (tx) => {
      expect(await conversations.findConversationsByIds(tx, conversationIds)).toEqual([]);
      expect(await messages.findMessagesByIds(tx, messageIds)).toEqual([]);
    });
  });

  it('insert a message with its author as their builder does', async () => {
    const db = database();
    const { tenant, conversationIds } = await seededTenant(db, 1, 0);
    const other = await seededTenant(db, 1, 0);
    await inTenant(
      db,
      tenant,
      async (tx) => {
        for (const body of ['first', 'second']) {
          const inserted = await messages.insertMessageWithAuthor(tx, { conversationId: conversationIds[0]!, authorId: tenant.admin.id, body });
          expect(inserted?.message).toMatchObject({ body, conversation_id: conversationIds[0], author_id: tenant.admin.id });
          expect(inserted?.author?.id).toBe(tenant.admin.id);
        }
        // Another tenant's conversation: nothing written.
        expect(
          await messages.insertMessageWithAuthor(tx, { conversationId: other.conversationIds[0]!, authorId: tenant.admin.id, body: 'x' }),
        ).toBeUndefined();
      },
      WRITE,
    );
    const bodies = await inTenant(db, tenant, (tx) =>
      messages.listMessagesByConversations(tx, conversationIds, { limit: 10, cursor: null, direction: 'forward' }),
    );
    expect(bodies.map((row) => row.body)).toEqual(['second', 'first']);
  });
});
