import { isDeepStrictEqual } from 'node:util';
import { SERVER_LABELS, targetOf, type ServerName, type ServerProcess } from './servers.js';
import { buildRequest, type Operation, type TenantTarget } from './workloads.js';
import { POSTGRAPHILE_Q2_DOCUMENT, toApiShape } from './postgraphile-documents.js';

export interface Verification {
  /** Per operation and server: the data statements sent (prologue, commit and rollback left out). */
  statements: Partial<Record<Operation, Partial<Record<ServerName, string[]>>>>;
  warnings: string[];
}

/**
 * Before measuring: every server answers each operation without errors, the floor and both APIs return the same
 * JSON for the same reads, and the floor sends the same data statements as the API (the API without RLS adds its
 * tenant predicates). Differences are reported as warnings, so a floor that drifted from the API shows up.
 */
export async function verify(servers: ServerProcess[], targets: TenantTarget[], log: (line: string) => void): Promise<Verification> {
  const verification: Verification = { statements: {}, warnings: [] };
  const probes = [targets[0]!, targets[Math.floor(targets.length / 2)]!, targets.at(-1)!];
  for (const operation of ['Q1', 'Q2', 'M1'] as const) {
    const answers = new Map<ServerName, unknown[]>();
    const sent = (verification.statements[operation] = {} as Partial<Record<ServerName, string[]>>);
    for (const server of servers) {
      const before = new Set((await server.stats()).texts);
      const bodies: unknown[] = [];
      for (const tenant of probes) {
        const request = buildRequest(operation, targetOf(server.name), tenant, tenant.conversationGlobalIds[0]!, `verification message`);
        const response = await fetch(`http://127.0.0.1:${server.port}${request.path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: request.authorization },
          body: request.body,
        });
        const json = (await response.json()) as { data?: unknown; errors?: unknown };
        if (response.status !== 200 || json.errors || !json.data) {
          throw new Error(`${SERVER_LABELS[server.name]} answered ${operation} with ${response.status}: ${JSON.stringify(json).slice(0, 500)}`);
        }
        bodies.push(server.name === 'postgraphile' ? toApiShape(operation, json.data as Record<string, unknown>) : json.data);
      }
      answers.set(server.name, bodies);
      // Wait out the API's batched audit writes so they are not taken for this operation's statements.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      sent[server.name] = [
        ...new Set(
          (await server.stats()).texts
            .filter((text) => !before.has(text) && !/^(start transaction|commit|rollback)/.test(text))
            // Batched audit inserts differ only in their number of rows.
            .map((text) => text.replace(/ values \(\$.*$/s, ' values (...)')),
        ),
      ];
    }
    if (operation !== 'M1') {
      const reference = answers.get('api') ?? answers.get(servers[0]!.name);
      for (const [name, bodies] of answers) {
        if (isDeepStrictEqual(bodies, reference)) continue;
        // The peer is only worth measuring when it does the same work: a different answer stops the run.
        if (name === 'postgraphile') {
          throw new Error(
            `${operation}: PostGraphile returned different data than the API: ${JSON.stringify(bodies).slice(0, 400)} vs ${JSON.stringify(reference).slice(0, 400)}`,
          );
        }
        verification.warnings.push(`${operation}: ${SERVER_LABELS[name]} returned different data than the API`);
      }
    }
    const floor = new Set(sent.floor ?? []);
    const api = new Set(sent.api ?? []);
    if (sent.floor && sent.api) {
      const onlyApi = [...api].filter((text) => !floor.has(text));
      const onlyFloor = [...floor].filter((text) => !api.has(text));
      if (onlyApi.length || onlyFloor.length) {
        verification.warnings.push(
          `${operation}: the floor's statements differ from the API's (only API: ${JSON.stringify(onlyApi)}; only floor: ${JSON.stringify(onlyFloor)})`,
        );
      }
    }
  }
  const postgraphile = servers.find((server) => server.name === 'postgraphile');
  if (postgraphile) await verifyIsolation(postgraphile.port, probes);
  for (const warning of verification.warnings) log(`warning: ${warning}`);
  log(`verification: every server answered Q1, Q2 and M1 without errors${postgraphile ? '; PostGraphile sees no other tenant' : ''}`);
  return verification;
}

/**
 * PostGraphile sees nothing of other tenants: with one tenant's token, another tenant's conversation (asked by
 * its exact primary key) is null, and the counts of every visible conversation and message are the tenant's own.
 * Throws, so a leaking peer is never measured.
 */
export async function verifyIsolation(port: number, probes: readonly TenantTarget[]): Promise<void> {
  const ask = async (tenant: TenantTarget, query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: tenant.authorization },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await response.json()) as { data?: Record<string, unknown>; errors?: unknown };
    if (json.errors || !json.data) throw new Error(`PostGraphile answered the isolation probe with ${JSON.stringify(json).slice(0, 500)}`);
    return json.data;
  };
  for (const [index, viewer] of probes.entries()) {
    const other = probes[(index + 1) % probes.length]!;
    if (other.tenantId === viewer.tenantId) continue;
    const foreign = await ask(viewer, POSTGRAPHILE_Q2_DOCUMENT, { tenantId: other.tenantId, id: other.conversationIds[0] });
    if (foreign.conversationByTenantIdAndRowId !== null) {
      throw new Error(`PostGraphile showed tenant ${other.tenantId}'s conversation to tenant ${viewer.tenantId}: it must not be measured`);
    }
    // Without any condition: RLS alone decides what a table shows. Every visible row must be the viewer's.
    const visible = (await ask(
      viewer,
      '{ allTenants { nodes { rowId } } allConversations(first: 500) { nodes { tenantId } } allMessages(first: 500) { nodes { tenantId } } allUsers(first: 500) { nodes { tenantId } } }',
    )) as Record<string, { nodes: { rowId?: string; tenantId?: string }[] }>;
    const tenantIds = Object.values(visible).flatMap((connection) => connection.nodes.map((node) => node.rowId ?? node.tenantId));
    if (!visible.allMessages!.nodes.length || tenantIds.some((id) => id !== viewer.tenantId)) {
      throw new Error(
        `PostGraphile showed tenant ${viewer.tenantId} rows of other tenants or none of its own: ${JSON.stringify(visible).slice(0, 300)}`,
      );
    }
  }
}
