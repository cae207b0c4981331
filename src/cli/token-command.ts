import { parseArgs } from 'node:util';
import { findMember } from '../admin/tenants.js';
import { issueToken } from '../auth/token-issuer.js';
import { serverJwtSecret, tokenClaims, withDatabase, type CliCommand } from './cli-context.js';
import { parseMemberFlags } from './id-flags.js';
import { requireTenantId } from './tenant-session.js';
import { UsageError } from './usage.js';

/** A jose duration the token issuer accepts: a positive count and a unit, e.g. 30m, 1h, 7d. */
const TTL = /^[1-9][0-9]*\s?(s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)$/i;

interface TokenOptions {
  tenantId: string;
  member: { userId: string } | { email: string };
  ttl: string;
}

/**
 * `token --tenant TENANT_ID (--user USER_ID | --email EMAIL) [--ttl 1h]`: prints a JWT (and nothing else) for a
 * member of the tenant, signed as the server verifies it. A member that does not exist in that tenant is an
 * error, so a typo never yields a token that the server would reject later.
 */
export const tokenCommand: CliCommand<TokenOptions> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        tenant: { type: 'string' },
        user: { type: 'string' },
        email: { type: 'string' },
        ttl: { type: 'string', default: '1h' },
      },
    });
    const { user, email, ttl } = values;
    const tenantId = requireTenantId('token', values.tenant);
    const member = parseMemberFlags('token', user, email);
    if (!TTL.test(ttl)) throw new UsageError(`--ttl must be a duration such as 30m, 1h or 7d, received ${JSON.stringify(ttl)}`);
    return { tenantId, member, ttl };
  },

  async run({ tenantId, member: by, ttl }, env, io) {
    const secret = await serverJwtSecret(env);
    if (secret === null) {
      throw new Error('Cannot sign tokens: they come from your identity provider (JWT_JWKS_URL, or JWT_ISSUER without JWT_SECRET).');
    }
    const member = await withDatabase(env, io, (database) => findMember(database.ownerUrl, tenantId, by));
    if (!member) {
      const who = 'userId' in by ? `user id ${by.userId}` : `email ${JSON.stringify(by.email)}`;
      throw new Error(`No member with ${who} in tenant ${tenantId} (or no such tenant).`);
    }
    if (member.tenantSuspended) {
      throw new Error(`Tenant ${tenantId} is suspended: no tokens are issued for it. Resume it first (tenant resume --tenant ${tenantId}).`);
    }
    // Named as the identity provider would name them, when they have external names (the server maps them back).
    io.out(
      await issueToken({
        secret,
        tenantId: member.tenantExternalId ?? tenantId,
        userId: member.externalSubject ?? member.id,
        ttl,
        ...tokenClaims(env),
      }),
    );
  },
};
