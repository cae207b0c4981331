/**
 * What the command line accepts, and the error for anything else. A {@link UsageError} makes the CLI print
 * its message and the usage on stderr and exit with status 2, so scripts can tell a typo (2) from a failed
 * operation (1).
 */
export const USAGE = [
  'Usage: npm run -s cli -- <command>',
  '  migrate                                        apply pending migrations',
  '  seed                                           add the demo tenants when the database has none',
  '  tenant create --name NAME --admin-email EMAIL [--admin-name NAME] [--id TENANT_ID]',
  '      [--external-id ORG_ID] [--admin-subject SUB]',
  '                                                 create a tenant and its first ADMIN; prints one JSON line',
  '  tenant export --tenant TENANT_ID --out DIR|FILE  every row of the tenant (NDJSON per table, manifest), read',
  "                                                 as the app role under the tenant's RLS; audited",
  '  tenant import --in DIR|FILE [--tenant-id NEW]  an export into this database, all or nothing',
  '  tenant delete --tenant TENANT_ID --confirm NAME [--dry-run] [--operator WHO]',
  '                                                 delete every row of the tenant, verify, keep a deletion record',
  '  tenant suspend --tenant TENANT_ID [--reason TEXT]',
  "                                                 refuse the tenant's requests (403 TENANT_SUSPENDED); audited",
  '  tenant resume --tenant TENANT_ID                serve the suspended tenant again; audited',
  '  tenant set-external-id --tenant TENANT_ID (--external-id ORG_ID | --clear)',
  "                                                 the identity provider's id of the organisation",
  '  tenant set-subject --tenant TENANT_ID (--user USER_ID | --email EMAIL) (--subject SUB | --clear)',
  "                                                 the identity provider's sub of a member",
  '  token --tenant TENANT_ID (--user USER_ID | --email EMAIL) [--ttl 1h]',
  '                                                 print a JWT for a member of a tenant',
  '  audit --tenant TENANT_ID [--since ISO] [--limit 100]',
  "                                                 print the tenant's audit events as NDJSON, newest first",
  '  explain --tenant TENANT_ID [--json] [--no-seqscan]',
  "                                                 EXPLAIN ANALYZE every access path of the API in the tenant's",
  '                                                 context: scans, tenant index use, time, buffers; --no-seqscan',
  '                                                 shows the index a path can use on a table still too small',
  "  tenant-policies --form citus|standard          rewrite every tenant table's tenant_isolation policy to that",
  '                                                 form (docs/citus.md); set TENANT_CONTEXT_MODE to match',
  '  sql --tenant TENANT_ID [-c "SQL" [--table]] [--write]',
  '                                                 one statement (-c) or a psql session confined to the',
  '                                                 tenant (tenantgraph_operator); read-only unless --write; audited;',
  '                                                 refused with TENANT_CONTEXT_MODE=citus (docs/citus.md)',
  '',
  'TENANT_ID and USER_ID take the raw id (a decimal tenant id, a user UUID) or the global id the API shows',
  '(viewer.tenant.id, User.id).',
].join('\n');

export class UsageError extends Error {
  override name = 'UsageError';
}

/** node:util parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options. */
export function asUsageError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) return new UsageError((error as Error).message);
  return error;
}
