import { inject } from 'vitest';
import { withOwnerTransaction } from '../../src/admin/owner-client.js';
import { enterTenant } from '../../src/tenancy/enter-tenant.js';
import { createTenant } from '../../src/admin/tenants.js';
import { issueToken } from '../../src/auth/token-issuer.js';
import { TEST_JWT_SECRET } from './server.js';

export interface TestUser {
  id: string;
  email: string;
  role: 'ADMIN' | 'MEMBER';
  token: string;
}

export interface TestTenant {
  id: string;
  name: string;
  admin: TestUser;
  /** Adds a member (MEMBER by default) and returns it with a token. */
  addUser(role?: 'ADMIN' | 'MEMBER'): Promise<TestUser>;
}

let counter = 0;

/** A brand-new tenant with one ADMIN, provisioned through the owner connection as the CLI does. */
export async function createTestTenant(options: { id?: string; name?: string } = {}): Promise<TestTenant> {
  const ownerUrl = inject('ownerUrl');
  const unique = `${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const provisioned = await createTenant(ownerUrl, {
    name: options.name ?? `Tenant ${unique}`,
    adminEmail: `admin-${unique}@example.test`,
    adminName: `Admin ${unique}`,
    ...(options.id ? { id: options.id } : {}),
  });
  const tenantId = provisioned.tenant.id;
  const admin: TestUser = {
    id: provisioned.user.id,
    email: provisioned.user.email,
    role: 'ADMIN',
    token: await tokenFor(tenantId, provisioned.user.id),
  };
  return {
    id: tenantId,
    name: provisioned.tenant.name,
    admin,
    async addUser(role = 'MEMBER') {
      const email = `user-${unique}-${counter++}@example.test`;
      const id = await withOwnerTransaction(ownerUrl, async (client) => {
        await enterTenant(client, tenantId);
        const { rows } = await client.query<{ id: string }>('insert into users (email, display_name, role) values ($1, $2, $3) returning id', [
          email,
          email.split('@')[0],
          role,
        ]);
        return rows[0]!.id;
      });
      return { id, email, role, token: await tokenFor(tenantId, id) };
    },
  };
}

export function tokenFor(tenantId: string, userId: string, ttl = '1h'): Promise<string> {
  return issueToken({ secret: TEST_JWT_SECRET, tenantId, userId, ttl });
}
