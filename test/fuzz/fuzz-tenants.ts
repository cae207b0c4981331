import { randomBytes } from 'node:crypto';
import { createTenant } from '../../src/admin/tenants.js';
import { encodeGlobalId } from '../../src/graphql/global-id.js';
import { tokenFor } from '../support/tenants.js';
import * as doc from './documents.js';
import { newMarker } from './leak-detector.js';
import type { TenantModel, UserModel } from './tenant-model.js';
import { fetchChecked, type Verifier } from './view-verifier.js';

/**
 * A run's tenants, provisioned as the CLI does (owner connection: tenant + first ADMIN), each with one MEMBER
 * invited through the API. Every string they own carries the tenant's marker; their ids are registered with the
 * leak detector.
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
    seq: 2 * index - 1_000,
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
  const localId = Buffer.from(user.id, 'base64url').toString('utf8').replace(/^User:/, '');
  verifier.leaks.register(localId, marker);
  tenant.users.push({
    id: user.id,
    localId,
    seq: 2 * index - 999,
    wave: 0,
    confirmed: true,
    cursor: null,
    email: user.email,
    displayName: user.displayName,
    role: 'MEMBER',
    token: await tokenFor(tenantId, localId),
  });
  return tenant;
}
