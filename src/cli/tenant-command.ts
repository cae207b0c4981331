import { parseArgs } from 'node:util';
import { createTenant, type CreateTenantInput } from '../admin/tenants.js';
import { issueToken } from '../auth/token-issuer.js';
import { normalizeEmail, requireText } from '../graphql/input.js';
import { parseIdFlag } from './id-flags.js';
import { serverJwtSecret, tokenClaims, withDatabase, type CliCommand } from './cli-context.js';
import { tenantDeleteCommand, tenantExportCommand, tenantImportCommand } from './tenant-lifecycle-commands.js';
import { UsageError } from './usage.js';
import { isValidExternalSubject, isValidExternalTenantId } from '../ids/entity-ids.js';
import { tenantSetExternalIdCommand, tenantSetSubjectCommand } from './external-name-commands.js';
import { tenantResumeCommand, tenantSuspendCommand } from './tenant-suspension-commands.js';

/** `tenant <sub-command> …`: each sub-command parses its own flags. */
const SUB_COMMANDS: Record<string, CliCommand<any>> = {
  export: tenantExportCommand,
  import: tenantImportCommand,
  delete: tenantDeleteCommand,
  suspend: tenantSuspendCommand,
  resume: tenantResumeCommand,
  'set-external-id': tenantSetExternalIdCommand,
  'set-subject': tenantSetSubjectCommand,
};

type TenantOptions = { sub: 'create'; options: CreateTenantInput } | { sub: string; options: unknown };

/** `tenant create|export|import|delete|suspend|resume|set-external-id|set-subject …`. */
export const tenantCommand: CliCommand<TenantOptions> = {
  parse(args) {
    const [sub, ...rest] = args;
    if (sub !== undefined && Object.hasOwn(SUB_COMMANDS, sub)) return { sub, options: SUB_COMMANDS[sub]!.parse(rest) as unknown };
    return { sub: 'create', options: tenantCreateCommand.parse(args) };
  },
  run({ sub, options }, env, io) {
    return sub === 'create' ? tenantCreateCommand.run(options as CreateTenantInput, env, io) : SUB_COMMANDS[sub]!.run(options, env, io);
  },
};

/**
 * `tenant create --name NAME --admin-email EMAIL [--admin-name NAME] [--id TENANT_ID]`: creates a tenant and its
 * first ADMIN, and prints one JSON line `{"tenant":{"id","name"},"user":{"id","email"},"token"}`. The tenant id is
 * a decimal string (ids exceed 2^53) — the value the token's tenant claim carries; `user.id` is its `sub`.
 */
const tenantCreateCommand: CliCommand<CreateTenantInput> = {
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
        'external-id': { type: 'string' },
        'admin-subject': { type: 'string' },
      },
    });
    if (positionals.length !== 1 || positionals[0] !== 'create') {
      throw new UsageError(
        `tenant expects a sub-command (create, ${Object.keys(SUB_COMMANDS).join(', ')}), received ${JSON.stringify(positionals.join(' '))}`,
      );
    }
    const { name, 'admin-email': adminEmail, 'admin-name': adminName, id, 'external-id': externalId, 'admin-subject': adminSubject } = values;
    if (externalId !== undefined && !isValidExternalTenantId(externalId)) {
      throw new UsageError(
        `--external-id must be 1 to 255 printable ASCII characters without spaces, quotes or backslashes, and not all digits; received ${JSON.stringify(externalId)}`,
      );
    }
    if (adminSubject !== undefined && !isValidExternalSubject(adminSubject)) {
      throw new UsageError(
        `--admin-subject must be 1 to 255 printable ASCII characters without spaces, quotes or backslashes; received ${JSON.stringify(adminSubject)}`,
      );
    }
    if (name === undefined) throw new UsageError('tenant create needs --name');
    if (adminEmail === undefined) throw new UsageError('tenant create needs --admin-email');
    const tenantId = id === undefined ? undefined : parseIdFlag('--id', 'Tenant', id);
    return {
      name: validated('--name', () => requireText(name, 'name', 200)),
      adminEmail: validated('--admin-email', () => normalizeEmail(adminEmail)),
      ...(adminName !== undefined ? { adminName: validated('--admin-name', () => requireText(adminName, 'admin-name', 200)) } : {}),
      ...(tenantId !== undefined ? { id: tenantId } : {}),
      ...(externalId !== undefined ? { externalId } : {}),
      ...(adminSubject !== undefined ? { adminSubject } : {}),
    };
  },

  async run(input, env, io) {
    const secret = await serverJwtSecret(env);
    if (secret === null) {
      io.log('tokens come from your identity provider (JWT_JWKS_URL or JWT_ISSUER without JWT_SECRET): the tenant is created, but "token" is null');
    }
    const { tenant, user } = await withDatabase(env, io, (database) =>
      createTenant(database.ownerUrl, input).catch((error: unknown) => {
        // 23505 unique_violation: a new tenant can hit its id or its external id.
        const { code, constraint } = error as { code?: string; constraint?: string };
        if (code === '23505' && constraint === 'tenants_external_id_key')
          throw new Error(`External id ${JSON.stringify(input.externalId)} belongs to another tenant already.`);
        if (code === '23505') throw new Error(`Tenant id ${input.id} is already taken.`);
        throw error;
      }),
    );
    // The token names the tenant and the member as the identity provider would, when they have external names.
    const token =
      secret === null
        ? null
        : await issueToken({ secret, tenantId: tenant.externalId ?? tenant.id, userId: user.externalSubject ?? user.id, ...tokenClaims(env) });
    const names = (externalId: string | null, key: string) => (externalId === null ? {} : { [key]: externalId });
    io.out(
      JSON.stringify({
        tenant: { id: tenant.id, name: tenant.name, ...names(tenant.externalId, 'externalId') },
        user: { id: user.id, email: user.email, ...names(user.externalSubject, 'externalSubject') },
        token,
      }),
    );
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
