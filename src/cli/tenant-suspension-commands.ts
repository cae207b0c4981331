import { parseArgs } from 'node:util';
import { resumeTenant, suspendTenant } from '../admin/tenant-suspension.js';
import { withDatabase, type CliCommand } from './cli-context.js';
import { requireTenantId } from './tenant-session.js';
import { UsageError } from './usage.js';

/**
 * `tenant suspend --tenant ID [--reason TEXT]`: refuses the tenant's requests from the commit on (403
 * TENANT_SUSPENDED, decided by the transaction prologue); its data is untouched. Prints one JSON line
 * `{"tenant":{…state},"changed":bool}`; an audit event of the tenant (LIFECYCLE, tenant.suspended, the reason).
 */
export const tenantSuspendCommand: CliCommand<{ tenantId: string; reason: string | null }> = {
  parse(args) {
    const { values } = parseArgs({ args, strict: true, options: { tenant: { type: 'string' }, reason: { type: 'string' } } });
    const reason = values.reason?.trim() ?? null;
    if (reason !== null && (reason.length < 1 || reason.length > 500)) throw new UsageError('--reason must be 1 to 500 characters');
    return { tenantId: requireTenantId('tenant suspend', values.tenant), reason };
  },
  async run({ tenantId, reason }, env, io) {
    const { changed, state } = await withDatabase(env, io, ({ ownerUrl }) => suspendTenant(ownerUrl, tenantId, reason));
    if (!changed) io.log(`tenant ${tenantId} was suspended already (since ${state.suspendedAt}); nothing changed`);
    io.out(JSON.stringify({ tenant: state, changed }));
  },
};

/** `tenant resume --tenant ID`: serves a suspended tenant again; audited (LIFECYCLE, tenant.resumed). */
export const tenantResumeCommand: CliCommand<{ tenantId: string }> = {
  parse(args) {
    const { values } = parseArgs({ args, strict: true, options: { tenant: { type: 'string' } } });
    return { tenantId: requireTenantId('tenant resume', values.tenant) };
  },
  async run({ tenantId }, env, io) {
    const { changed, state } = await withDatabase(env, io, ({ ownerUrl }) => resumeTenant(ownerUrl, tenantId));
    if (!changed) io.log(`tenant ${tenantId} was not suspended; nothing changed`);
    io.out(JSON.stringify({ tenant: state, changed }));
  },
};
