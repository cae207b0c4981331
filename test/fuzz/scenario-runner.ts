import type pg from 'pg';
import { tokenFor } from '../support/tenants.js';
import type { ApiResponse } from './fuzz-client.js';
import { provisionTenants } from './fuzz-tenants.js';
import { verifyDeliveries } from './delivery-checks.js';
import { verifyDatabase } from './ground-truth.js';
import type { ApplyContext, ResolvedOperation, RunState, Views } from './operation.js';
import type { OperationSpec } from './operation-specs.js';
import { resolveOperation } from './operations.js';
import { fail, FuzzFailure } from './page-checks.js';
import type { PlannedAction } from './subscriber-specs.js';
import { SubscriberPool, type RealtimeDependencies } from './subscribers.js';
import { fingerprint, type TenantModel } from './tenant-model.js';
import { verifyTenantView, type Verifier } from './view-verifier.js';

export interface ScenarioDependencies extends Verifier {
  ownerUrl: string;
  owner: pg.Client;
  tenantsPerRun: number;
  /** Operations sent, by operation and outcome (and how many used another tenant's ids): what the runs covered. */
  coverage: Map<string, Map<string, number>>;
  /** The server's sockets, for the run's subscribers. */
  realtime: RealtimeDependencies;
}

/**
 * Runs one generated scenario on fresh tenants: each wave's operations are sent at once; their answers are checked
 * against the model; then every tenant's whole view and the database are compared with the model. The planned
 * subscribers act before the waves they name and receive while the waves run; after the last wave their
 * deliveries are checked (delivery-checks.ts). Returns the number of operations sent.
 */
export async function runScenario(
  waves: readonly OperationSpec[][],
  deps: ScenarioDependencies,
  subscribers: readonly PlannedAction[] = [],
): Promise<number> {
  let seq = 0;
  const state: RunState = {
    tenants: await provisionTenants(deps, deps.ownerUrl, deps.tenantsPerRun),
    leaks: deps.leaks,
    wave: 0,
    nextSeq: () => (seq += 1),
    tokenFor: (tenant, userLocalId) => tokenFor(tenant.tenantId, userLocalId),
  };
  const queue = waves.map((wave) => [...wave]);
  const pool = new SubscriberPool(deps.realtime, deps.owner, state, subscribers, waves.length);
  try {
    const sent = await runWaves(queue, state, deps, pool);
    await verifyDeliveries(pool, deps);
    countSubscriptions(pool, deps);
    return sent;
  } finally {
    await pool.close();
  }
}

async function runWaves(queue: OperationSpec[][], state: RunState, deps: ScenarioDependencies, pool: SubscriberPool): Promise<number> {
  let sent = 0;
  for (let index = 0; index < queue.length; index += 1) {
    queue[index]!.push(...(await pool.beforeWave(index)));
    state.wave = index + 1;
    const wave = runWave(queue[index]!, state, deps);
    pool.duringWave();
    const { ran, deferred, written } = await wave;
    sent += ran;
    if (deferred.length > 0) {
      if (index + 1 < queue.length) queue[index + 1]!.unshift(...deferred);
      else queue.push(deferred);
    }
    // The database check covers every tenant (a write that strayed into a tenant that sent none shows there);
    // the API views are re-read for the tenants that sent writes, accepted or rejected.
    await Promise.all(written.map((tenant) => verifyTenantView(deps, tenant)));
    await verifyDatabase(deps.owner, state.tenants, deps.leaks);
  }
  return sent;
}

/** What the subscribers covered, beside the operations: `subscribe <field> <own|foreign>` by outcome. */
function countSubscriptions(pool: SubscriberPool, deps: ScenarioDependencies): void {
  for (const sub of pool.subscriptions) {
    const key = `subscribe ${sub.field} ${sub.foreign ? 'foreign' : 'own'}`;
    const outcome = sub.errors.length > 0 ? String(sub.errors[0]?.extensions?.code) : sub.foreign ? 'nothing' : 'delivered';
    const counts = deps.coverage.get(key) ?? new Map<string, number>();
    deps.coverage.set(key, counts.set(outcome, (counts.get(outcome) ?? 0) + 1));
    if (sub.resumes > 0) counts.set('resumed', (counts.get('resumed') ?? 0) + 1);
    if (!sub.foreign) counts.set('events', (counts.get('events') ?? 0) + sub.data.length);
  }
}

/**
 * One wave. Operations whose outcomes would depend on their interleaving (two renames of one conversation, two
 * invitations of one address) are deferred to the next wave; everything else commutes, so the model can predict
 * the wave whatever order the server runs it in.
 */
async function runWave(
  specs: readonly OperationSpec[],
  state: RunState,
  deps: ScenarioDependencies,
): Promise<{ ran: number; deferred: OperationSpec[]; written: TenantModel[] }> {
  const operations: ResolvedOperation[] = [];
  const deferred: OperationSpec[] = [];
  const keys = new Set<string>();
  specs.forEach((spec, index) => {
    const operation = resolveOperation(spec, state, index);
    if (operation.conflictKey !== null && keys.has(operation.conflictKey)) return deferred.push(spec);
    if (operation.conflictKey !== null) keys.add(operation.conflictKey);
    operations.push(operation);
  });

  const before = state.tenants.map((tenant) => structuredClone(tenant));
  const responses = await Promise.all(operations.map((op) => deps.send({ token: op.user.token, marker: op.tenant.marker }, op.query, op.variables)));
  const results = operations.map((op, i) => ({ op, response: responses[i]! }));

  for (const { op, response } of results) within(op, response, () => checkOutcome(op, response));
  for (const { op, response } of results.filter((r) => r.op.write)) within(op, response, () => scanForLeaks(op, response, deps));

  const afterWave: (() => void)[] = [];
  const reportedCounts = new Map<string, number[]>();
  for (const { op, response } of results) {
    if (!op.write || op.rejection !== null) continue;
    const context: ApplyContext = { state, before: before[op.tenant.index]!, afterWave: (check) => afterWave.push(check), reportedCounts };
    await withinAsync(op, response, () => op.apply!(response.body!.data, context));
  }
  for (const check of afterWave) check();

  const views: Views[] = state.tenants.map((tenant, i) => ({
    before: before[i]!,
    after: tenant,
    exact: fingerprint(before[i]!) === fingerprint(tenant),
    wave: state.wave,
  }));
  for (const { op } of results) {
    const mode = op.write ? '' : views[op.tenant.index]!.exact ? ' exact' : ' racing writes';
    const outcome = `${op.rejection ?? 'ok'}${mode}`;
    const counts = deps.coverage.get(op.spec.op) ?? new Map<string, number>();
    deps.coverage.set(op.spec.op, counts.set(outcome, (counts.get(outcome) ?? 0) + 1));
    if (JSON.stringify(op.spec).includes('"from":"foreign"')) counts.set('foreign refs', (counts.get('foreign refs') ?? 0) + 1);
  }
  for (const { op, response } of results) {
    if (op.write) continue;
    within(op, response, () => scanForLeaks(op, response, deps));
    if (op.rejection === null) within(op, response, () => op.check!(response.body!.data, views[op.tenant.index]!, state));
  }
  const written = state.tenants.filter((tenant) => operations.some((op) => op.write && op.tenant === tenant));
  return { ran: operations.length, deferred, written };
}

/** The predicted outcome: success with data and no errors, or the predicted code and no data. */
function checkOutcome(op: ResolvedOperation, response: ApiResponse<unknown>): void {
  const body = response.body ?? fail(`not a JSON response (HTTP ${response.status})`);
  const codes = (body.errors ?? []).map((error) => error.extensions?.code);
  if (op.anyClientOutcome) {
    const clientCodes: unknown[] = ['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN'];
    if (response.status >= 500 || codes.some((code) => !clientCodes.includes(code))) {
      fail(`expected success or a client error, received HTTP ${response.status} ${codes.join(', ')}`);
    }
    return;
  }
  if (op.rejection === null) {
    if (response.status !== 200 || codes.length > 0 || !body.data) {
      fail(`expected success, received HTTP ${response.status} ${codes.join(', ')}`);
    }
    return;
  }
  if (codes.length === 0 || codes.some((code) => code !== op.rejection)) {
    fail(`expected ${op.rejection}, received HTTP ${response.status} ${codes.length > 0 ? codes.join(', ') : 'success'}`);
  }
  const data = body.data as Record<string, unknown> | null | undefined;
  if (data && Object.values(data).some((value) => value !== null)) fail(`a rejected ${op.spec.op} still returned data`);
}

function scanForLeaks(op: ResolvedOperation, response: ApiResponse<unknown>, deps: ScenarioDependencies): void {
  const problems = deps.leaks.scan(op.tenant.marker, response.text, response.body, op.variables);
  if (problems.length > 0) fail(`LEAK: the response shows another tenant's data: ${problems.join('; ')}`);
}

/** Reruns a check with the operation, its variables and the raw response attached to any failure. */
function within(op: ResolvedOperation, response: ApiResponse<unknown>, check: () => void): void {
  try {
    check();
  } catch (error) {
    throw annotate(error, op, response);
  }
}

async function withinAsync(op: ResolvedOperation, response: ApiResponse<unknown>, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    throw annotate(error, op, response);
  }
}

function annotate(error: unknown, op: ResolvedOperation, response: ApiResponse<unknown>): Error {
  const message = error instanceof Error ? error.message : String(error);
  const text = response.text.length > 3000 ? `${response.text.slice(0, 3000)}…` : response.text;
  return new FuzzFailure(
    `${op.label}\n  ${message}\n  predicted: ${op.rejection ?? 'success'}\n  variables: ${truncate(JSON.stringify(op.variables))}\n` +
      `  request id: ${response.requestId}\n  response (HTTP ${response.status}): ${text}`,
  );
}

function truncate(text: string): string {
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}
