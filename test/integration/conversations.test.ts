import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveConversationDocument,
  ConversationDocument,
  ConversationsDocument,
  CreateConversationDocument,
  PostMessageDocument,
  RenameConversationDocument,
} from '../../src/__generated__/sdk/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant } from '../support/tenants.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

describe('Mutation.createConversation', () => {
  it('creates a conversation owned by the caller that lists newest first', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const first = await api.request(CreateConversationDocument, { input: { title: 'First' } });
    const second = await api.request(CreateConversationDocument, { input: { title: '  Second  ' } });
    expect(first.errors).toBeUndefined();
    expect(second.data?.createConversation.conversation).toMatchObject({ title: 'Second', archived: false, messageCount: 0 });

    const list = await api.request(ConversationsDocument, {});
    expect(list.data?.conversations.totalCount).toBe(2);
    expect(list.data?.conversations.edges.map((e) => e.node.title)).toEqual(['Second', 'First']);
  });

  it('rejects an empty or over-long title with BAD_USER_INPUT and writes nothing', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    for (const title of ['', '   ', 'x'.repeat(201)]) {
      const result = await api.request(CreateConversationDocument, { input: { title } });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(/title/);
    }
    const list = await api.request(ConversationsDocument, {});
    expect(list.data?.conversations.totalCount).toBe(0);
  });
});

describe('Mutation.postMessage', () => {
  it('adds a message that becomes lastMessage and counts in messageCount', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'Chat' } });
    const id = created.data!.createConversation.conversation.id;
    for (const body of ['one', 'two', 'three']) {
      const posted = await api.request(PostMessageDocument, { input: { conversationId: id, body } });
      expect(posted.errors).toBeUndefined();
    }
    const view = await api.request(ConversationDocument, { id, first: 2 });
    const conversation = view.data?.conversation;
    expect(conversation?.messageCount).toBe(3);
    expect(conversation?.lastMessage?.body).toBe('three');
    expect(conversation?.messages.totalCount).toBe(3);
    expect(conversation?.messages.edges.map((e) => e.node.body)).toEqual(['three', 'two']);
    expect(conversation?.messages.pageInfo.hasNextPage).toBe(true);

    const next = await api.request(ConversationDocument, { id, first: 2, after: conversation!.messages.pageInfo.endCursor });
    expect(next.errors).toBeUndefined();
    expect(next.data?.conversation?.messages.edges.map((e) => e.node.body)).toEqual(['one']);
    expect(next.data?.conversation?.messages.pageInfo.hasNextPage).toBe(false);
  });

  it('stores SQL-looking and Unicode text literally', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: "Robert'); DROP TABLE messages;--" } });
    const id = created.data!.createConversation.conversation.id;
    const body = "' OR 1=1; SET row_security = off; -- 👩‍💻 Ünïcödé";
    const posted = await api.request(PostMessageDocument, { input: { conversationId: id, body } });
    expect(posted.data?.postMessage.message.body).toBe(body);
    expect(created.data?.createConversation.conversation.title).toBe("Robert'); DROP TABLE messages;--");
  });
});

describe('Mutation.renameConversation / archiveConversation', () => {
  it('renames and archives, and the archived filter follows', async () => {
    const tenant = await createTestTenant();
    const api = server.client(tenant.admin.token);
    const created = await api.request(CreateConversationDocument, { input: { title: 'Old' } });
    const id = created.data!.createConversation.conversation.id;
    const renamed = await api.request(RenameConversationDocument, { input: { id, title: 'New' } });
    expect(renamed.data?.renameConversation.conversation.title).toBe('New');
    const archived = await api.request(ArchiveConversationDocument, { input: { id } });
    expect(archived.data?.archiveConversation.conversation.archived).toBe(true);

    const active = await api.request(ConversationsDocument, { filter: { archived: false } });
    const onlyArchived = await api.request(ConversationsDocument, { filter: { archived: true, titleContains: 'ne' } });
    expect(active.data?.conversations.totalCount).toBe(0);
    expect(onlyArchived.data?.conversations.edges.map((e) => e.node.title)).toEqual(['New']);
  });
});
