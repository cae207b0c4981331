import { parseArgs } from 'node:util';
import { findMember } from '../admin/tenants.js';
import { resumeTenant, setTenantExternalId, setUserExternalSubject, suspendTenant } from '../admin/tenant-lifecycle.js';
import { withDatabase, type CliCommand } from './cli-context.js';
import { parseIdFlag } from './id-flags.js';
import { requireTenantId } from './tenant-session.js';
import { UsageError } from './usage.js';

/**
 * `tenant suspend|resume|set-external-id|set-subject`: the tenant's lifecycle and its names at the identity
 * provider (issue 13). Each prints one JSON line with the tenant's state afterwards; suspension and resumption
 * are audit events of the tenant (operation type LIFECYCLE).
 */
export type TenantLifecycleInput =
  | { action: 'suspend'; tenantId: string; reason: string | null }
  | { action: 'resume'; tenantId: string }
  | { action: 'set-external-id'; tenantId: string; externalId: string | null }
  | { action: 'set-subject'; tenantId: string; member: { userId: string } | { email: string }; subject: string | null };

export const TENANT_LIFECYCLE_ACTIONS = ['suspend', 'resume', 'set-external-id', 'set-subject'] as const;

export const tenantLifecycleCommand: CliCommand<TenantLifecycleInput> = {
  parse(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        tenant: { type: 'string' },
        reason: { type: 'string' },
        'external-id': { type: 'string' },
        user: { type: 'string' },
        email: { type: 'string' },
        subject: { type: 'string' },
        clear: { type: 'boolean', default: false },
      },
    });
    const action = positionals[0];
    const tenantId = requireTenantId(`tenant ${action}`, values.tenant);
    const only = (allowed: string[]) => {
      const extra = Object.keys(values).filter((key) => !['tenant', 'clear', ...allowed].includes(key));
      if (extra.length) throw new UsageError(`tenant ${action} does not take --${extra[0]}`);
      if (values.clear && !allowed.includes('clear')) throw new UsageError(`tenant ${action} does not take --clear`);
    };
    switch (action) {
      case 'suspend': {
        only(['reason']);
        const reason = values.reason?.trim() ?? null;
        if (reason !== null && (reason.length < 1 || reason.length > 500)) throw new UsageError('--reason must be 1 to 500 characters');
        return { action, tenantId, reason };
      }
      case 'resume':
        only([]);
        return { action, tenantId };
      case 'set-external-id': {
        only(['external-id', 'clear']);
        if ((values['external-id'] === undefined) === !values.clear)
          throw new UsageError('tenant set-external-id needs exactly one of --external-id and --clear');
        return { action, tenantId, externalId: values['external-id'] ?? null };
      }
      case 'set-subject': {
        only(['user', 'email', 'subject', 'clear']);
        if ((values.user === undefined) === (values.email === undefined))
          throw new UsageError('tenant set-subject needs exactly one of --user and --email');
        if ((values.subject === undefined) === !values.clear) throw new UsageError('tenant set-subject needs exactly one of --subject and --clear');
        const member = values.user !== undefined ? { userId: parseIdFlag('--user', 'User', values.user) } : { email: values.email! };
        return { action, tenantId, member, subject: values.subject ?? null };
      }
      default:
        throw new UsageError(`unknown tenant sub-command ${JSON.stringify(action)}`);
    }
  },

  async run(input, env, io) {
    await withDatabase(env, io, async ({ ownerUrl }) => {
      try {
        switch (input.action) {
          case 'suspend': {
            const { changed, state } = await suspendTenant(ownerUrl, input.tenantId, input.reason);
            if (!changed) io.log(`tenant ${input.tenantId} was suspended already (since ${state.suspendedAt}); nothing changed`);
            io.out(JSON.stringify({ tenant: state, changed }));
            return;
          }
          case 'resume': {
            const { changed, state } = await resumeTenant(ownerUrl, input.tenantId);
            if (!changed) io.log(`tenant ${input.tenantId} was not suspended; nothing changed`);
            io.out(JSON.stringify({ tenant: state, changed }));
            return;
          }
          case 'set-external-id':
            io.out(JSON.stringify({ tenant: await setTenantExternalId(ownerUrl, input.tenantId, input.externalId) }));
            return;
          case 'set-subject': {
            const member = await findMember(ownerUrl, input.tenantId, input.member);
            if (!member) throw new Error(`No such member in tenant ${input.tenantId} (or no such tenant).`);
            await setUserExternalSubject(ownerUrl, input.tenantId, member.id, input.subject);
            io.out(JSON.stringify({ user: { id: member.id, email: member.email, externalSubject: input.subject } }));
            return;
          }
        }
      } catch (error) {
        // The admin functions validate with TypeErrors; for the CLI they are a failed operation with a sentence.
        if (error instanceof TypeError) throw new Error(error.message);
        throw error;
      }
    });
  },
};
