import os from 'node:os';
import { parseArgs } from 'node:util';
import { deleteTenant, type DeleteTenantInput } from '../admin/tenant-delete.js';
import { exportTenant, resolveExportTarget } from '../admin/tenant-export.js';
import { importTenant, openExport } from '../admin/tenant-import.js';
import { readMigrationFiles } from '../db/sql-file-migrations.js';
import { listTenantTableLayouts } from '../db/tenant-table-layout.js';
import { commitOrRollBack } from '../tenancy/tenant-transaction.js';
import { parseIdFlag } from './id-flags.js';
import { withDatabase, type CliCommand } from './cli-context.js';
import { audited, beginOperatorTransaction, requireTenantId, startOperatorSession, withAppSession } from './tenant-session.js';
import { UsageError } from './usage.js';

/** The schema version an export records and an import requires: the last migration this code ships (and applied). */
async function schemaVersion(): Promise<string> {
  return (await readMigrationFiles()).at(-1)!.name;
}

/**
 * `tenant export --tenant ID --out DIR|FILE`: every row of the tenant, table by table, with a manifest (see
 * src/admin/tenant-export.ts). Prints one JSON line: where it went and the rows per table; progress on stderr.
 *
 * SECURITY: reads as the app role in the tenant's context (an operator transaction, as `audit` and `explain`
 * read), REPEATABLE READ and read-only, so Row Level Security confines it to the tenant and one snapshot makes
 * the tables agree. Audited like the other operator commands (operation name 'tenant export'); the event is
 * written after the read, so it is not in the export.
 */
export const tenantExportCommand: CliCommand<{ tenantId: string; out: string }> = {
  parse(args) {
    const { values } = parseArgs({ args, strict: true, options: { tenant: { type: 'string' }, out: { type: 'string' } } });
    const tenantId = requireTenantId('tenant export', values.tenant);
    if (!values.out) throw new UsageError('tenant export needs --out DIR|FILE');
    return { tenantId, out: values.out };
  },

  async run({ tenantId, out }, env, io) {
    const target = await resolveExportTarget(out);
    const version = await schemaVersion();
    const session = startOperatorSession(tenantId, 'tenant export');
    const manifest = await withAppSession(env, io, session, (app) =>
      audited(app, session, io, 'committed', async () => {
        const tx = await beginOperatorTransaction(app, tenantId, {
          readOnly: true,
          isolation: 'repeatable read',
          statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
          idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        });
        return commitOrRollBack(tx, async () =>
          exportTenant(tx, { tenantId, tables: await listTenantTableLayouts(tx), schemaVersion: version, target, progress: io.log }),
        );
      }),
    );
    io.out(
      JSON.stringify({
        exported: { tenantId, [target.kind]: out, schemaVersion: version, tables: manifest.tables.map(({ table, rows }) => ({ table, rows })) },
      }),
    );
  },
};

/**
 * `tenant import --in DIR|FILE [--tenant-id NEW]`: an export into this database, as the owner, in one transaction
 * (src/admin/tenant-import.ts). Prints one JSON line with the tenant id and the rows per table.
 */
export const tenantImportCommand: CliCommand<{ input: string; tenantId?: string }> = {
  parse(args) {
    const { values } = parseArgs({ args, strict: true, options: { in: { type: 'string' }, 'tenant-id': { type: 'string' } } });
    if (!values.in) throw new UsageError('tenant import needs --in DIR|FILE (what tenant export wrote)');
    const tenantId = values['tenant-id'] === undefined ? undefined : parseIdFlag('--tenant-id', 'Tenant', values['tenant-id']);
    return { input: values.in, ...(tenantId ? { tenantId } : {}) };
  },

  async run({ input, tenantId }, env, io) {
    const source = await openExport(input);
    const version = await schemaVersion();
    const result = await withDatabase(env, io, (database) =>
      importTenant(database.ownerUrl, source, { schemaVersion: version, ...(tenantId ? { tenantId } : {}), progress: io.log }),
    );
    io.out(JSON.stringify({ imported: result }));
  },
};

/**
 * `tenant delete --tenant ID --confirm NAME [--dry-run] [--operator WHO]`: verified hard deletion
 * (src/admin/tenant-delete.ts). Prints one JSON line: the deletion record, or with --dry-run the rows per table
 * that would go.
 */
export const tenantDeleteCommand: CliCommand<DeleteTenantInput> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: { tenant: { type: 'string' }, confirm: { type: 'string' }, 'dry-run': { type: 'boolean' }, operator: { type: 'string' } },
    });
    const tenantId = requireTenantId('tenant delete', values.tenant);
    if (values.confirm === undefined) throw new UsageError("tenant delete needs --confirm with the tenant's name, exactly");
    const operator = values.operator ?? `${os.userInfo().username}@${os.hostname()}`;
    if (operator.length < 1 || operator.length > 200) throw new UsageError(`--operator must be 1 to 200 characters, received ${operator.length}`);
    return { tenantId, confirmName: values.confirm, dryRun: values['dry-run'] ?? false, operator };
  },

  async run(input, env, io) {
    const result = await withDatabase(env, io, (database) => deleteTenant(database.ownerUrl, input, io.log));
    if (result.kind === 'dry-run') io.out(JSON.stringify({ dryRun: { tenantId: result.tenantId, rows: result.rows } }));
    else {
      if (result.kind === 'already-deleted') io.log(`delete: tenant ${input.tenantId} was already deleted (${result.record.id})`);
      io.out(JSON.stringify({ deleted: result.record }));
    }
  },
};
