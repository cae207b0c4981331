import { randomBytes } from 'node:crypto';
import { createTenant } from '../../src/admin/tenants.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { tokenFor } from '../support/tenants.js';
import * as doc from './documents.js';
import type { Caller } from './fuzz-client.js';
import { newMarker } from './leak-detector.js';
import type { TenantModel, UserModel } from './tenant-model.js';
import { fetchChecked, type Verifier } from './view-verifier.js';

/**
 * A run's tenants, provisioned as the CLI does (owner connection: tenant + first ADMIN), then through the API one
 * MEMBER and one conversation with one message each. Every string they own carries the tenant's marker; their ids
 * are registered with the leak detector.
 */
export async function provisionTenants(verifier: Verifier, ownerUrl: string, count: number): Promise<TenantModel[]> {
  const runTag = randomBytes(4).toString('hex');
  return Promise.all(Array.from({ length: count }, (_, index) => provisionTenant(verifier, ownerUrl, newMarker(runTag, index), index)));
}

async function provisionTenant(verifier: Verifier, ownerUrl: string, marker: string, index: number): Promise<TenantModel> {
  const provisioned = await createTenant(ownerUrl, {
    name: `${marker} Tenant`,
    adminEmail: `${marker}.admin@fuzz.test`,
    adminName: `${marker} Admin`,
  });
  const tenantId = provisioned.tenant.id;
  const admin: UserModel = {
    id: encodeGlobalId('User', provisioned.user.id),
    localId: provisioned.user.id,
    seq: 4 * index - 1_000,
    wave: 0,
    confirmed: true,
    cursor: null,
    email: provisioned.user.email,
    displayName: provisioned.user.displayName,
    role: 'ADMIN',
    token: await tokenFor(tenantId, provisioned.user.id),
  };
  const tenant: TenantModel = {
    index,
    marker,
    tenantId,
    globalId: encodeGlobalId('Tenant', tenantId),
    name: provisioned.tenant.name,
    users: [admin],
    conversations: [],
    auditEvents: [],
  };
  verifier.leaks.register(tenantId, marker);
  verifier.leaks.register(admin.localId, marker);

  const caller = { token: admin.token, marker };
  const invited = await fetchChecked<doc.InviteUserData>(verifier, tenant, caller, 'provisioning', doc.INVITE_USER, {
    input: { email: `${marker}.member@fuzz.test`, displayName: `${marker} Member`, role: 'MEMBER' },
  });
  const { user } = invited.inviteUser;
  const localId = Buffer.from(user.id, 'base64url')
    .toString('utf8')
    .replace(/^User:/, '');
  verifier.leaks.register(localId, marker);
  tenant.users.push({
    id: user.id,
    localId,
    seq: 4 * index - 999,
    wave: 0,
    confirmed: true,
    cursor: null,
    email: user.email,
    displayName: user.displayName,
    role: 'MEMBER',
    token: await tokenFor(tenantId, localId),
  });
  await seedConversation(verifier, tenant, caller, index);
  return tenant;
}

/**
 * One conversation with one message in every tenant from the start, so that a read that crosses tenants shows
 * something of the run's own tenants: the failure then replays from its seed and path alone, without depending
 * on what earlier runs left in the database.
 */
async function seedConversation(verifier: Verifier, tenant: TenantModel, caller: Caller, index: number): Promise<void> {
  const { conversation } = (
    await fetchChecked<doc.CreateConversationData>(verifier, tenant, caller, 'provisioning', doc.CREATE_CONVERSATION, {
      input: { title: `${tenant.marker} Welcome` },
    })
  ).createConversation;
  const { message } = (
    await fetchChecked<doc.PostMessageData>(verifier, tenant, caller, 'provisioning', doc.POST_MESSAGE, {
      input: { conversationId: conversation.id, body: `${tenant.marker} hello` },
    })
  ).postMessage;
  const localIdOf = (id: string) => Buffer.from(id, 'base64url').toString('utf8').replace(/^\w+:/, '');
  verifier.leaks.register(localIdOf(conversation.id), tenant.marker);
  verifier.leaks.register(localIdOf(message.id), tenant.marker);
  const provisioned = { wave: 0, confirmed: true, cursor: null };
  tenant.conversations.push({
    ...provisioned,
    id: conversation.id,
    localId: localIdOf(conversation.id),
    seq: 4 * index - 998,
    title: conversation.title,
    archived: false,
    createdAt: conversation.createdAt,
    createdById: tenant.users[0]!.id,
    messages: [
      {
        ...provisioned,
        id: message.id,
        localId: localIdOf(message.id),
        seq: 4 * index - 997,
        body: message.body,
        createdAt: message.createdAt,
        authorId: tenant.users[0]!.id,
        conversationId: conversation.id,
      },
    ],
  });
}
