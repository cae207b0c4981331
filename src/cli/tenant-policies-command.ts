import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Env } from '../config/env.js';
import { listTenantTables } from '../db/tenant-catalog.js';
import { withDatabase, type CliCommand } from './cli-context.js';
import { UsageError } from './usage.js';

export interface TenantPoliciesOptions {
  form: 'citus' | 'standard';
}

/**
 * `tenant-policies --form citus|standard`: rewrites the tenant_isolation policy of every tenant table (from the
 * catalog, so a table added since is covered) to that form with app.set_tenant_policy_form (migrations/0017), as
 * the owner, in one transaction: all tables switch or none. The operator step that goes with TENANT_CONTEXT_MODE
 * (docs/citus.md): the server's start-up check accepts only the form of its mode.
 */
export const tenantPoliciesCommand: CliCommand<TenantPoliciesOptions> = {
  parse(args) {
    const { values } = parseArgs({ args, options: { form: { type: 'string' } }, strict: true });
    if (values.form !== 'citus' && values.form !== 'standard') {
      throw new UsageError(`--form must be citus or standard, received ${JSON.stringify(values.form ?? null)}`);
    }
    return { form: values.form };
  },
  async run(options, env: Env, io) {
    await withDatabase(env, io, async ({ ownerUrl }) => {
      const client = new pg.Client({ connectionString: ownerUrl, application_name: 'tenantgraph-cli-tenant-policies' });
      await client.connect();
      try {
        await client.query('begin');
        const tables = await listTenantTables(client);
        for (const table of tables) await client.query('select app.set_tenant_policy_form($1, $2)', [table.qualifiedName, options.form]);
        await client.query('commit');
        io.out(`${options.form} policy form on ${tables.length} tenant tables: ${tables.map((t) => t.qualifiedName).join(', ')}`);
        io.log(`Set TENANT_CONTEXT_MODE=${options.form} on every server before it starts again (the start-up check accepts only this form).`);
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        await client.end();
      }
    });
  },
};
