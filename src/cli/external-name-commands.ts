import { parseArgs } from 'node:util';
import { setTenantExternalId, setUserExternalSubject } from '../admin/external-names.js';
import { findMember } from '../admin/tenants.js';
import { withDatabase, type CliCommand } from './cli-context.js';
import { parseMemberFlags } from './id-flags.js';
import { requireTenantId } from './tenant-session.js';
import { UsageError } from './usage.js';

/**
 * `tenant set-external-id --tenant ID (--external-id ORG_ID | --clear)`: the identity provider's id of the
 * organisation, which tokens may name the tenant by. Prints `{"tenant":{…state}}`.
 */
export const tenantSetExternalIdCommand: CliCommand<{ tenantId: string; externalId: string | null }> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: { tenant: { type: 'string' }, 'external-id': { type: 'string' }, clear: { type: 'boolean', default: false } },
    });
    if ((values['external-id'] === undefined) === !values.clear)
      throw new UsageError('tenant set-external-id needs exactly one of --external-id and --clear');
    return { tenantId: requireTenantId('tenant set-external-id', values.tenant), externalId: values['external-id'] ?? null };
  },
  async run({ tenantId, externalId }, env, io) {
    const tenant = await withDatabase(env, io, ({ ownerUrl }) => setTenantExternalId(ownerUrl, tenantId, externalId).catch(asFailure));
    io.out(JSON.stringify({ tenant }));
  },
};

interface SetSubjectInput {
  tenantId: string;
  member: { userId: string } | { email: string };
  subject: string | null;
}

/**
 * `tenant set-subject --tenant ID (--user USER_ID | --email EMAIL) (--subject SUB | --clear)`: the identity provider's
 * `sub` of a member. Prints `{"user":{"id","email","externalSubject"}}`.
 */
export const tenantSetSubjectCommand: CliCommand<SetSubjectInput> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        tenant: { type: 'string' },
        user: { type: 'string' },
        email: { type: 'string' },
        subject: { type: 'string' },
        clear: { type: 'boolean', default: false },
      },
    });
    const tenantId = requireTenantId('tenant set-subject', values.tenant);
    const member = parseMemberFlags('tenant set-subject', values.user, values.email);
    if ((values.subject === undefined) === !values.clear) throw new UsageError('tenant set-subject needs exactly one of --subject and --clear');
    return { tenantId, member, subject: values.subject ?? null };
  },
  async run({ tenantId, member: by, subject }, env, io) {
    const member = await withDatabase(env, io, async ({ ownerUrl }) => {
      const found = await findMember(ownerUrl, tenantId, by);
      if (!found) throw new Error(`No such member in tenant ${tenantId} (or no such tenant).`);
      await setUserExternalSubject(ownerUrl, tenantId, found.id, subject).catch(asFailure);
      return found;
    });
    io.out(JSON.stringify({ user: { id: member.id, email: member.email, externalSubject: subject } }));
  },
};

/** The admin functions validate with TypeErrors; for the CLI they are a failed operation with a sentence (exit 1). */
function asFailure(error: unknown): never {
  if (error instanceof TypeError) throw new Error(error.message);
  throw error;
}
