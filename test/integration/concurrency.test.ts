import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ArchiveConversationDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  DashboardDocument,
  InviteUserDocument,
  NodeDocument,
  PostMessageDocument,
  RenameConversationDocument,
  UsersDocument,
  ViewerDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import type { Client, GraphQLResponse } from '../../src/sdk/client.js';
import { withOwnerClient } from '../support/owner-db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

// 5 tenants share a pool of 2 connections, so every connection serves many tenants in turn. Each wave fires all
// tenants' requests at once in a shuffled order; every response is kept and, at the end, checked against the
// final data of every other tenant as the owner connection reads it.

const TENANTS = 5;
const WAVES = 10;
const POOL_MAX = 2;

/** What a tenant wrote, as the API confirmed it: the expected final state. */
interface Model {
  tag: string;
  tenant: TestTenant;
  api: Client;
  memberApi: Client;
  /** Conversation global id -> its expected title, archived flag and message bodies. */
  conversations: Map<string, { title: string; archived: boolean; bodies: string[]; createdInWave: number }>;
  emails: string[];
  /** A few of the tenant's own node ids, for `node` reads. */
  nodeIds: string[];
}

interface Recorded {
  tenant: Model;
  operation: string;
  response: GraphQLResponse<unknown>;
}

let server: TestServer;
let models: Model[];

beforeAll(async () => {
  server = await startTestServer({ pool: { max: POOL_MAX, acquireTimeoutMs: 10_000 } });
  models = await Promise.all(Array.from({ length: TENANTS }, (_, index) => createModel(index)));
});
afterAll(async () => {
  await server?.close();
});

async function createModel(index: number): Promise<Model> {
  const tag = `conc${index}t${randomUUID().slice(0, 8)}`;
  const tenant = await createTestTenant({ name: `Tenant ${tag}` });
  const member = await tenant.addUser('MEMBER');
  const model: Model = {
    tag,
    tenant,
    api: server.client(tenant.admin.token),
    memberApi: server.client(member.token),
    conversations: new Map(),
    emails: [tenant.admin.email, member.email],
    nodeIds: [encodeGlobalId('User', tenant.admin.id), encodeGlobalId('User', member.id)],
  };
  for (let c = 0; c < 2 + index; c++) {
    const title = `${tag} seed ${c}`;
    const created = ok(await model.api.request(CreateConversationDocument, { input: { title } }));
    const id = created.createConversation.conversation.id;
    model.conversations.set(id, { title, archived: false, bodies: [], createdInWave: -1 });
    model.nodeIds.push(id);
    const body = `${tag} seed body ${c}`;
    const posted = ok(await model.memberApi.request(PostMessageDocument, { input: { conversationId: id, body } }));
    model.conversations.get(id)!.bodies.push(body);
    model.nodeIds.push(posted.postMessage.message.id);
  }
  return model;
}

function ok<T>(response: GraphQLResponse<T>): T {
  expect(response.errors).toBeUndefined();
  expect(response.status).toBe(200);
  return response.data!;
}

/** A small deterministic PRNG (mulberry32), so a failing interleaving can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

type Operation = { name: string; run: () => Promise<GraphQLResponse<unknown>> };

/**
 * One tenant's requests in one wave: reads of every kind and writes of every kind. Writes update the model only
 * after the API confirmed them. At most one rename and one archive per conversation per wave, so the final state
 * does not depend on the interleaving.
 */
function operationsFor(model: Model, wave: number, next: () => number): Operation[] {
  const ids = [...model.conversations.keys()];
  const pick = () => ids[Math.floor(next() * ids.length)]!;
  const postTo = (api: Client, conversationId: string, body: string): Operation => ({
    name: 'postMessage',
    run: async () => {
      const response = await api.request(PostMessageDocument, { input: { conversationId, body } });
      if (response.data) {
        model.conversations.get(conversationId)!.bodies.push(body);
        model.nodeIds.push(response.data.postMessage.message.id);
      }
      return response;
    },
  });
  const title = `${model.tag} wave ${wave}`;
  const [renamed, archived] = shuffle([...ids], next);
  const email = `invite-${model.tag}-${wave}@example.test`;
  const operations: Operation[] = [
    {
      name: 'createConversation',
      run: async () => {
        const response = await model.api.request(CreateConversationDocument, { input: { title } });
        if (response.data) {
          const id = response.data.createConversation.conversation.id;
          model.conversations.set(id, { title, archived: false, bodies: [], createdInWave: wave });
          model.nodeIds.push(id);
        }
        return response;
      },
    },
    postTo(model.api, pick(), `${model.tag} wave ${wave} from admin`),
    postTo(model.memberApi, pick(), `${model.tag} wave ${wave} from member`),
    {
      name: 'renameConversation',
      run: async () => {
        const newTitle = `${model.tag} renamed in wave ${wave}`;
        const response = await model.api.request(RenameConversationDocument, { input: { id: renamed!, title: newTitle } });
        if (response.data) model.conversations.get(renamed!)!.title = newTitle;
        return response;
      },
    },
    { name: 'conversations', run: () => model.api.request(ConversationsDocument, { first: 50 }) },
    {
      name: 'conversations(filter)',
      run: () => model.memberApi.request(ConversationsDocument, { first: 50, filter: { titleContains: 'wave', archived: false } }),
    },
    { name: 'dashboard', run: () => model.api.request(DashboardDocument, { first: 20, messages: 5 }) },
    { name: 'conversation', run: () => model.memberApi.request(ConversationDocument, { id: pick(), first: 20 }) },
    { name: 'users', run: () => model.api.request(UsersDocument, { first: 50 }) },
    { name: 'viewer', run: () => model.memberApi.request(ViewerDocument) },
    {
      name: 'node',
      run: () => model.api.request(NodeDocument, { id: model.nodeIds[Math.floor(next() * model.nodeIds.length)]! }),
    },
    {
      name: 'node(foreign)',
      run: () => {
        // Another tenant's id, taken from what that tenant has written so far: always null.
        const others = models.filter((m) => m !== model);
        const other = others[Math.floor(next() * others.length)]!;
        return model.api.request(NodeDocument, { id: other.nodeIds[Math.floor(next() * other.nodeIds.length)]! });
      },
    },
  ];
  if (wave % 2 === 0) {
    operations.push({
      name: 'inviteUser',
      run: async () => {
        const response = await model.api.request(InviteUserDocument, { input: { email, displayName: `${model.tag} ${wave}` } });
        if (response.data) model.emails.push(email);
        return response;
      },
    });
  } else {
    operations.push({
      name: 'archiveConversation',
      run: async () => {
        const response = await model.api.request(ArchiveConversationDocument, { input: { id: archived! } });
        if (response.data) model.conversations.get(archived!)!.archived = true;
        return response;
      },
    });
  }
  return operations;
}

/** Every tenant's rows as the owner sees them: the final truth. */
async function readFinalState(tenantIds: string[]) {
  return withOwnerClient(async (client) => {
    const conversations = await client.query<{ tenant_id: string; id: string; title: string; archived: boolean; message_count: number }>(
      'select tenant_id::text, id, title, archived, message_count from conversations where tenant_id = any($1::bigint[])',
      [tenantIds],
    );
    const messages = await client.query<{ tenant_id: string; id: string; conversation_id: string; body: string }>(
      'select tenant_id::text, id, conversation_id, body from messages where tenant_id = any($1::bigint[])',
      [tenantIds],
    );
    const users = await client.query<{ tenant_id: string; id: string; email: string }>(
      'select tenant_id::text, id, email from users where tenant_id = any($1::bigint[])',
      [tenantIds],
    );
    return { conversations: conversations.rows, messages: messages.rows, users: users.rows };
  });
}

describe('the API under concurrent tenants on a pool of 2', () => {
  it("never returns a foreign row across 200+ interleaved requests, and keeps every tenant's writes", async () => {
    const next = random(20_260_127);
    const recorded: Recorded[] = [];
    for (let wave = 0; wave < WAVES; wave++) {
      const batch = shuffle(
        models.flatMap((model) => operationsFor(model, wave, next).map((operation) => ({ model, operation }))),
        next,
      );
      const responses = await Promise.all(batch.map(({ operation }) => operation.run()));
      responses.forEach((response, i) => recorded.push({ tenant: batch[i]!.model, operation: batch[i]!.operation.name, response }));
    }
    // A floor on this test's own size (the seeded waves decide the exact number), not a result of the API.
    expect(recorded.length).toBeGreaterThanOrEqual(200);

    // Every request succeeded: the pool of 2 queued the rest rather than failing or mixing them up.
    const failures = recorded.filter((r) => r.response.errors || r.response.status !== 200);
    expect(failures.map((r) => ({ operation: r.operation, status: r.response.status, errors: r.response.errors }))).toEqual([]);
    for (const r of recorded.filter((r) => r.operation === 'node(foreign)')) expect(r.response.data).toEqual({ node: null });

    // The final truth, as the owner reads it.
    const final = await readFinalState(models.map((m) => m.tenant.id));
    const secrets = new Map<Model, string[]>();
    for (const model of models) {
      const own = <T extends { tenant_id: string }>(rows: T[]) => rows.filter((row) => row.tenant_id === model.tenant.id);
      secrets.set(model, [
        model.tag,
        model.tenant.name,
        encodeGlobalId('Tenant', model.tenant.id),
        ...own(final.users).flatMap((u) => [u.id, u.email, encodeGlobalId('User', u.id)]),
        ...own(final.conversations).flatMap((c) => [c.id, c.title, encodeGlobalId('Conversation', c.id)]),
        ...own(final.messages).flatMap((m) => [m.id, m.body, encodeGlobalId('Message', m.id)]),
      ]);
    }

    // No response of any tenant contains an id, title, body, email or name of another tenant.
    const leaks: string[] = [];
    for (const { tenant, operation, response } of recorded) {
      const text = JSON.stringify(response.data);
      for (const other of models) {
        if (other === tenant) continue;
        for (const secret of secrets.get(other)!) {
          if (text.includes(secret)) leaks.push(`${tenant.tag} ${operation} contains ${other.tag}'s ${secret}`);
        }
      }
    }
    expect(leaks).toEqual([]);

    // Every tenant's final state is exactly what it wrote.
    for (const model of models) {
      const own = <T extends { tenant_id: string }>(rows: T[]) => rows.filter((row) => row.tenant_id === model.tenant.id);
      const byId = new Map(own(final.conversations).map((c) => [encodeGlobalId('Conversation', c.id), c]));
      expect(new Set(byId.keys())).toEqual(new Set(model.conversations.keys()));
      for (const [id, expected] of model.conversations) {
        const row = byId.get(id)!;
        expect({ title: row.title, archived: row.archived, messageCount: row.message_count }).toEqual({
          title: expected.title,
          archived: expected.archived,
          messageCount: expected.bodies.length,
        });
        const bodies = own(final.messages)
          .filter((m) => encodeGlobalId('Conversation', m.conversation_id) === id)
          .map((m) => m.body);
        expect(bodies.sort()).toEqual([...expected.bodies].sort());
      }
      expect(
        own(final.users)
          .map((u) => u.email)
          .sort(),
      ).toEqual([...model.emails].sort());

      // And the API reports the same to the tenant itself.
      const listed = ok(await model.api.request(ConversationsDocument, { first: 100 }));
      expect(listed.conversations.totalCount).toBe(model.conversations.size);
      const users = ok(await model.api.request(UsersDocument, { first: 100 }));
      expect(users.users.totalCount).toBe(model.emails.length);
    }

    // Both connections went back to the pool: nothing leaked, nothing is waiting (once the audit trail, which
    // writes buffered events on the same pool, has written them).
    await server.audit.flush();
    const { pool } = server.database;
    expect(pool.totalCount).toBeLessThanOrEqual(POOL_MAX);
    await vi.waitFor(() => expect(pool.idleCount).toBe(pool.totalCount), { timeout: 5000 });
    expect(pool.waitingCount).toBe(0);
  });
});
