import { parseArgs } from 'node:util';
import { createTenant, type CreateTenantInput } from '../admin/tenants.js';
import { issueToken } from '../auth/token-issuer.js';
import { normalizeEmail, requireText } from '../graphql/input.js';
import { parseIdFlag } from './id-flags.js';
import { serverJwtSecret, tokenClaims, withDatabase, type CliCommand } from './cli-context.js';
import { UsageError } from './usage.js';

/**
 * `tenant create --name NAME --admin-email EMAIL [--admin-name NAME] [--id TENANT_ID]`: creates a tenant and its
 * first ADMIN, and prints one JSON line `{"tenant":{"id","name"},"user":{"id","email"},"token"}`. The tenant id is
 * a decimal string (ids exceed 2^53) — the value the token's tenant claim carries; `user.id` is its `sub`.
 */
export const tenantCommand: CliCommand<CreateTenantInput> = {
  parse(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        name: { type: 'string' },
        'admin-email': { type: 'string' },
        'admin-name': { type: 'string' },
        id: { type: 'string' },
      },
    });
    if (positionals.length !== 1 || positionals[0] !== 'create') {
      throw new UsageError(`tenant expects the sub-command "create", received ${JSON.stringify(positionals.join(' '))}`);
    }
    const { name, 'admin-email': adminEmail, 'admin-name': adminName, id } = values;
    if (name === undefined) throw new UsageError('tenant create needs --name');
    if (adminEmail === undefined) throw new UsageError('tenant create needs --admin-email');
    const tenantId = id === undefined ? undefined : parseIdFlag('--id', 'Tenant', id);
    return {
      name: validated('--name', () => requireText(name, 'name', 200)),
      adminEmail: validated('--admin-email', () => normalizeEmail(adminEmail)),
      ...(adminName !== undefined ? { adminName: validated('--admin-name', () => requireText(adminName, 'admin-name', 200)) } : {}),
      ...(tenantId !== undefined ? { id: tenantId } : {}),
    };
  },

  async run(input, env, io) {
    const secret = await serverJwtSecret(env);
    if (secret === null) {
      io.log('tokens come from your identity provider (JWT_JWKS_URL or JWT_ISSUER without JWT_SECRET): the tenant is created, but "token" is null');
    }
    const { tenant, user } = await withDatabase(env, io, (database) =>
      createTenant(database.ownerUrl, input).catch((error: unknown) => {
        // 23505 unique_violation: the only unique key a new tenant can hit is its id.
        if ((error as { code?: string }).code === '23505') throw new Error(`Tenant id ${input.id} is already taken.`);
        throw error;
      }),
    );
    const token = secret === null ? null : await issueToken({ secret, tenantId: tenant.id, userId: user.id, ...tokenClaims(env) });
    io.out(JSON.stringify({ tenant: { id: tenant.id, name: tenant.name }, user: { id: user.id, email: user.email }, token }));
  },
};

/** Runs an input validator (they throw BAD_USER_INPUT errors meant for GraphQL) and reports failures as usage errors. */
function validated<T>(flag: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
