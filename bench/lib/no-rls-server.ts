import { startServerCheckedBy, type RunningServer, type ServerOptions } from '../../src/server/create-server.js';
import { assertBypassesRowLevelSecurity, ExplicitTenantFilterPlugin, readTenantColumns } from './explicit-tenant-filter-plugin.js';

/**
 * The benchmark's "API without RLS", composed from the product's parts: the product's server (everything
 * startServer runs), a per-transaction Kysely plugin that adds `<table>.tenant_id = <tenant>` to every
 * statement (ServerOptions.transactionPlugins), and, instead of the product's isolation check, the opposite
 * one: `options.appUrl` must be a NOSUPERUSER BYPASSRLS role, or the benchmark would measure RLS plus the filter.
 *
 * SECURITY: only the benchmark (and its own tests) compose this. The product's startServer refuses the
 * BYPASSRLS role, so this server cannot be reached through `npm start` or any setting.
 */
export async function startNoRlsServer(options: ServerOptions): Promise<RunningServer> {
  const tenantColumns = await readTenantColumns(options.appUrl);
  return startServerCheckedBy(
    { ...options, transactionPlugins: (tenantId) => [new ExplicitTenantFilterPlugin(tenantId, tenantColumns)] },
    assertBypassesRowLevelSecurity,
  );
}
