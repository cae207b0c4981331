import { parseArgs } from 'node:util';
import { listAuditEvents } from '../modules/audit/queries.js';
import type { CliCommand } from './cli-context.js';
import { audited, readInTenant, requireTenantId, startOperatorSession, withAppSession } from './tenant-session.js';
import { UsageError } from './usage.js';

interface AuditOptions {
  tenantId: string;
  /** ISO timestamp (normalised to UTC) or null. */
  since: string | null;
  limit: number;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 100_000;
// A calendar date, optionally with a time and an offset (without one the time is the operator's local time).
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * `audit --tenant TENANT_ID [--since ISO] [--limit N]`: the tenant's audit events, newest first, as NDJSON
 * (`occurredAt`, `userId`, `requestId`, `source`, `operationType`, `operationName`, `outcome`, `durationMs`).
 *
 * SECURITY: reads as the app role in that tenant's context with the API's own query (listAuditEvents), so
 * Row Level Security shows this tenant's trail and nothing else. The read is itself a context switch, and
 * leaves an event (operation name 'audit') after the ones it printed, as an `auditEvents` request does.
 */
export const auditCommand: CliCommand<AuditOptions> = {
  parse(args) {
    const { values } = parseArgs({
      args,
      strict: true,
      options: { tenant: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' } },
    });
    const tenantId = requireTenantId('audit', values.tenant);
    const since = values.since === undefined ? null : parseSince(values.since);
    const limit = values.limit === undefined ? DEFAULT_LIMIT : Number(values.limit);
    if (!/^[1-9][0-9]*$/.test(values.limit ?? '1') || limit > MAX_LIMIT) {
      throw new UsageError(`--limit must be an integer from 1 to ${MAX_LIMIT}, received ${JSON.stringify(values.limit)}`);
    }
    return { tenantId, since, limit };
  },

  async run({ tenantId, since, limit }, env, io) {
    const session = startOperatorSession(tenantId, 'audit');
    const rows = await withAppSession(env, io, session, (app) =>
      audited(app, session, io, 'committed', () =>
        readInTenant(app, tenantId, env, (tx) => listAuditEvents(tx, { since }, { limit, cursor: null, direction: 'forward' })),
      ),
    );
    for (const row of rows) {
      io.out(
        JSON.stringify({
          occurredAt: new Date(row.created_at).toISOString(),
          userId: row.user_id,
          requestId: row.request_id,
          source: row.source,
          operationType: row.operation_type,
          operationName: row.operation_name,
          outcome: row.outcome,
          durationMs: row.duration_ms,
        }),
      );
    }
  },
};

/** An ISO 8601 date or date-time that names a real instant; JavaScript alone would turn 2024-02-30 into March 1. */
function parseSince(value: string): string {
  const match = ISO.exec(value);
  const time = match ? Date.parse(value) : Number.NaN;
  const [year, month, day] = match ? [1, 2, 3].map((i) => Number(match[i])) : [0, 0, 0];
  const calendar = new Date(Date.UTC(2000, 0, 1));
  calendar.setUTCFullYear(year!, month! - 1, day!);
  if (Number.isNaN(time) || calendar.getUTCMonth() !== month! - 1 || calendar.getUTCDate() !== day!) {
    throw new UsageError(`--since must be an ISO 8601 date or date-time such as 2024-05-01T12:00:00Z, received ${JSON.stringify(value)}`);
  }
  return new Date(time).toISOString();
}
