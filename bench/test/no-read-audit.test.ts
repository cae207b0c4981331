import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOwnerClient } from '../../test/support/owner-db.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { createTestTenant, type TestTenant } from '../../test/support/tenants.js';
import { MutationsOnlyAuditSink } from '../lib/mutations-only-audit-sink.js';

// The benchmark's "API without read audit events" (ratio apiOverNoReadAudit) must differ from the API by the read
// events alone: no query leaves an event, every mutation still does (committed inside its transaction, rolled back
// through the batch writer). And the product's startServer, without the bench's option, records the reads.
let variant: TestServer;
let sink: MutationsOnlyAuditSink | undefined;
let tenant: TestTenant;

beforeAll(async () => {
  variant = await startTestServer({ auditSink: (auditLog) => (sink = new MutationsOnlyAuditSink(auditLog)) });
  tenant = await createTestTenant();
});

afterAll(async () => {
  await variant?.close();
});

const CREATE = 'mutation Make { createConversation(input: { title: "audited" }) { conversation { id } } }';
const LIST = 'query List { conversations(first: 5) { totalCount nodes { id title } } }';
// Creates a conversation, then fails to rename one that does not exist: the whole mutation rolls back.
const FAILING =
  'mutation Bad { createConversation(input: { title: "x" }) { conversation { id } } renameConversation(input: { id: "Q29udmVyc2F0aW9uOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA", title: "y" }) { conversation { id } } }';

/** Sends `query` with a fresh request id and returns the id. */
async function send(server: TestServer, query: string): Promise<string> {
  const requestId = `no-read-audit-${randomUUID()}`;
  const response = await server.post({ query }, { authorization: `Bearer ${tenant.admin.token}`, 'x-request-id': requestId });
  expect(response.status).toBe(200);
  return requestId;
}

/** The audit events of these requests, as the owner sees them (every tenant), in request order. */
async function eventsOf(requestIds: string[]): Promise<[string, string, string, string][]> {
  const { rows } = await withOwnerClient((client) =>
    client.query<{ tenant_id: string; request_id: string; operation_type: string; outcome: string }>(
      'select tenant_id::text, request_id, operation_type, outcome from audit_events where request_id = any($1)',
      [requestIds],
    ),
  );
  return rows
    .sort((a, b) => requestIds.indexOf(a.request_id) - requestIds.indexOf(b.request_id))
    .map((row) => [row.tenant_id, row.request_id, row.operation_type, row.outcome]);
}

describe('the API without read audit events (bench/lib/mutations-only-audit-sink.ts)', () => {
  it('records every mutation, committed or rolled back, and no read', async () => {
    const make = await send(variant, CREATE);
    const list = await send(variant, LIST);
    const bad = await send(variant, FAILING);
    const listAgain = await send(variant, LIST);
    await variant.audit.flush();

    expect(await eventsOf([make, list, bad, listAgain])).toEqual([
      [tenant.id, make, 'mutation', 'committed'],
      [tenant.id, bad, 'mutation', 'rolled_back'],
    ]);
    // The reads reached the sink and went no further: the audit writer never saw them.
    expect(sink!.dropped).toBeGreaterThanOrEqual(2);
    expect(variant.audit.pending).toBe(0);
  });

  it('leaves the product as shipped recording its reads, written on a clean shutdown at the latest', async () => {
    const shipped = await startTestServer();
    let ids: string[];
    try {
      ids = [await send(shipped, CREATE), await send(shipped, LIST), await send(shipped, FAILING)];
      // No flush: the server's timer waits an hour in tests, so only close() writes the buffered events.
    } finally {
      await shipped.close();
    }
    expect(await eventsOf(ids)).toEqual([
      [tenant.id, ids[0], 'mutation', 'committed'],
      [tenant.id, ids[1], 'query', 'committed'],
      [tenant.id, ids[2], 'mutation', 'rolled_back'],
    ]);
  });
});
