/**
 * `npm run bench` — the API against the floor, against itself without RLS, against PostGraphile 5 and against itself
 * without read audit events, in one run (issues 4, 9).
 *
 *   npm run bench                     default: 1,000 Zipf tenants, >= 1,000,000 messages, 3 rounds x 5 s
 *   npm run bench -- --quick          small data, 1 round of 2 s: to check that everything works
 *   npm run bench -- --scale-curve    Q1 at 100, 1,000 and 10,000 equally sized tenants
 *   npm run bench -- --noisy          one tenant floods (--flood-connections 64) while --victims 10 tenants send Q1/Q2:
 *                                     victims alone, with fairness on and with fairness off (issue 8 §5)
 *   npm run bench -- --realtime       subscriptions (issue 12 §4): --subscribers 2000 over --tenants 100 (--rooms-per-tenant 2
 *                                     conversations each) while writers commit --rate 200 messages/s, and a --large-room of
 *                                     1,000 subscribers on one conversation; the API's fan-out side by side with a naive
 *                                     per-subscriber baseline (one RLS transaction per subscriber per event); --writers
 *                                     database (default: commits as another replica, waking the servers over LISTEN) or api
 *   options: --tenants N --messages M --zipf S --rounds R --duration S --warmup-rounds W --prewarm S
 *            --concurrency C --pool P --tenant-pick uniform|weighted --workloads Q1,Q2,M1,MIX --servers floor,api,noRls,postgraphile,apiNoReadAudit,trusted
 *            --trusted-documents (adds the server "API with trusted documents")
 *
 * Its own database (embedded PostgreSQL under os.tmpdir(), or a new database on BENCH_DATABASE_URL), removed at
 * the end. Prints a markdown table; writes bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { issueToken } from '../src/auth/token-issuer.js';
import { APP_ROLE } from '../src/db/prepare-database.js';
import { createBenchDatabase, type BenchDatabase } from './lib/bench-database.js';
import { BackendCpu } from './lib/db-cpu.js';
import { listBenchTenants, loadTenants, type LoadReport } from './lib/dataset.js';
import { machine, versions } from './lib/environment.js';
import { runLoad } from './lib/load.js';
import { NO_RLS_ROLE } from './lib/no-rls-role.js';
import {
  combineRounds,
  fixed,
  markdownTable,
  ratiosOf,
  round,
  summarizeRun,
  type CellResult,
  type Results,
  type RunMeasurement,
} from './lib/report.js';
import { SERVER_LABELS, ServerProcess, targetOf, type ServerConfig, type ServerName } from './lib/servers.js';
import { verify } from './lib/verify.js';
import { runRealtime } from './lib/realtime-run.js';
import { CONNECTING_AT_ONCE } from './lib/realtime-load.js';
import { floodRequest, FLOOD_DOCUMENT, FLOOD_SEARCHES, runPhase, victimRequests, type PhaseResult } from './lib/noisy.js';
import { benchTrustedDocuments, requestGenerator, toTarget, WORKLOADS, type TenantPick, type TenantTarget, type Workload } from './lib/workloads.js';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------------------------------------- options

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'scale-curve': { type: 'boolean', default: false },
    tenants: { type: 'string' },
    messages: { type: 'string' },
    zipf: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'warmup-rounds': { type: 'string' },
    prewarm: { type: 'string' },
    concurrency: { type: 'string' },
    pool: { type: 'string' },
    'tenant-pick': { type: 'string' },
    workloads: { type: 'string' },
    servers: { type: 'string' },
    'scale-steps': { type: 'string' },
    'keep-logs': { type: 'boolean', default: false },
    'trusted-documents': { type: 'boolean', default: false },
    noisy: { type: 'boolean', default: false },
    'flood-connections': { type: 'string' },
    victims: { type: 'string' },
    'victim-connections': { type: 'string' },
    realtime: { type: 'boolean', default: false },
    subscribers: { type: 'string' },
    'rooms-per-tenant': { type: 'string' },
    rate: { type: 'string' },
    'large-room': { type: 'string' },
    writers: { type: 'string' },
  },
});

const quick = flags.quick!;
const options = {
  quick,
  tenants: int('tenants', quick ? 100 : 1000),
  messages: int('messages', quick ? 20_000 : 1_000_000),
  zipf: Number(flags.zipf ?? 1),
  rounds: int('rounds', quick ? 1 : 3),
  durationSec: int('duration', quick ? 2 : 5),
  warmupRounds: int('warmup-rounds', quick ? 0 : 1, 0),
  prewarmSec: int('prewarm', 1, 0),
  concurrency: int('concurrency', 16),
  pool: int('pool', 10),
  tenantPick: (flags['tenant-pick'] ?? 'uniform') as TenantPick,
  workloads: list(flags.workloads, WORKLOADS) as Workload[],
  servers: withTrusted(list(flags.servers, ['floor', 'api', 'noRls', 'postgraphile', 'apiNoReadAudit']) as ServerName[], flags['trusted-documents']!),
  scaleSteps: (flags['scale-steps'] ?? (quick ? '10,100,1000' : '100,1000,10000')).split(',').map(Number),
  /** Per tenant in the scale curve: the same for every tenant, so only their number changes. */
  scaleTenant: { usersPerTenant: 8, conversationsPerTenant: 25, messagesPerTenant: 200 },
  statementTimeoutMs: 5000,
  idleInTransactionTimeoutMs: 10000,
  floodConnections: int('flood-connections', 64),
  victims: int('victims', 10),
  victimConnections: int('victim-connections', 10),
};
if (!['uniform', 'weighted'].includes(options.tenantPick)) fail(`--tenant-pick must be uniform or weighted`);
for (const w of options.workloads) if (!WORKLOADS.includes(w)) fail(`unknown workload ${w}`);
for (const s of options.servers) if (!(s in SERVER_LABELS)) fail(`unknown server ${s}`);

function int(name: string, fallback: number, min = 1): number {
  const raw = flags[name as keyof typeof flags];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) fail(`--${name} must be an integer >= ${min}, received ${JSON.stringify(raw)}`);
  return value;
}

/** `--trusted-documents`: the API once more, with a manifest of the workloads' documents, sent their ids. */
function withTrusted(servers: ServerName[], trusted: boolean): ServerName[] {
  return trusted && !servers.includes('trusted') ? [...servers, 'trusted'] : servers;
}

function list(raw: string | undefined, fallback: readonly string[]): string[] {
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [...fallback];
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const log = (line: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ---------------------------------------------------------------------------------------------- lifecycle

const jwtSecret = randomBytes(32).toString('hex');
const logDir = mkdtempSync(path.join(os.tmpdir(), 'tenantgraph-bench-logs-'));
let database: BenchDatabase | undefined;
let monitor: BackendCpu | undefined;
const running: ServerProcess[] = [];

async function cleanUp(): Promise<void> {
  await Promise.allSettled(running.map((server) => server.stop()));
  await monitor?.close().catch(() => {});
  await database?.close().catch((error) => log(`could not remove the bench database: ${error}`));
  database = undefined;
  if (flags['keep-logs']) log(`server logs kept in ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping servers and removing the bench database`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const startedAt = new Date();
const loadAverageAtStart = os.loadavg().map((v) => round(v, 2));
try {
  if (flags['scale-curve']) await scaleCurve();
  else if (flags.noisy) await noisyNeighbour();
  else if (flags.realtime) await realtimeFanOut();
  else await sideBySide();
} finally {
  await cleanUp();
}

// ---------------------------------------------------------------------------------------------- main run

async function sideBySide(): Promise<void> {
  database = await createBenchDatabase(log);
  log(`database: ${database.description}`);
  log(`seeding ${options.tenants} Zipf(s=${options.zipf}) tenants, ${options.messages} messages`);
  const seed = await loadTenants(database.ownerUrl, { kind: 'zipf', tenants: options.tenants, messages: options.messages, exponent: options.zipf });
  log(`seeded in ${seed.seconds.load} s (+ ${seed.seconds.analyze} s VACUUM ANALYZE): ${JSON.stringify(seed)}`);
  const targets = await tenantTargets(database.ownerUrl);

  const servers = await startServers(database, options.servers);
  if (postgresIsLocal(database)) monitor = await BackendCpu.connect(database.ownerUrl);
  const verification = await verify(servers, targets, log);

  const results: Results = {};
  const total = options.workloads.length * (options.rounds + options.warmupRounds) * servers.length;
  let done = 0;
  const runStarted = Date.now();
  for (const workload of options.workloads) {
    const cells = (results[workload] = {} as Partial<Record<ServerName, CellResult>>);
    const rounds = new Map<ServerName, { measured: RunMeasurement[]; latencies: number[] }>(
      servers.map((s) => [s.name, { measured: [], latencies: [] }]),
    );
    for (let r = 0; r < options.warmupRounds + options.rounds; r++) {
      const warmup = r < options.warmupRounds;
      for (const server of servers) {
        const { measurement, latencies } = await measureRun(server, workload, targets, hashSeed(workload, r), r);
        done++;
        log(
          `${workload} ${warmup ? 'warm-up' : `round ${r - options.warmupRounds + 1}/${options.rounds}`} ${server.name.padEnd(5)} ` +
            `${fixed(measurement.reqPerSec, 0).padStart(6)} req/s  p50 ${fixed(measurement.p50Ms, 2)} ms  p99 ${fixed(measurement.p99Ms, 2)} ms` +
            `${measurement.errors + measurement.failures ? `  ERRORS ${measurement.errors + measurement.failures}` : ''}` +
            `  [${done}/${total}, ${eta(runStarted, done, total)}]`,
        );
        if (warmup) continue;
        const cell = rounds.get(server.name)!;
        cell.measured.push({ ...measurement, round: r - options.warmupRounds + 1 });
        for (const ms of latencies) cell.latencies.push(ms);
      }
    }
    for (const server of servers) {
      const cell = rounds.get(server.name)!;
      cells[server.name] = combineRounds(cell.measured, cell.latencies);
    }
  }

  const ratios = ratiosOf(results);
  const noisyCells = Object.entries(results).flatMap(([workload, cells]) =>
    Object.entries(cells ?? {})
      .filter(([, cell]) => cell.noisy)
      .map(([server]) => `${workload}/${server}`),
  );
  const report = {
    kind: 'side-by-side',
    timestamp: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ratios,
    noisy: noisyCells.length > 0,
    noisyCells,
    targets: targetsMet(results, ratios),
    options: { ...options, scaleSteps: undefined, scaleTenant: undefined },
    scale: seed,
    machine: machine(loadAverageAtStart),
    versions: await versions(database.ownerUrl, ROOT),
    verification,
    results,
  };
  const table = markdownTable(results, ratios);
  console.log(`\n## Tenantgraph benchmark ${report.timestamp}\n`);
  console.log(describeSetup(seed));
  console.log(`\n${table}\n`);
  if (report.noisy) console.log(`Noisy (rounds differ by more than 10 % in req/s): ${noisyCells.join(', ')}\n`);
  for (const warning of verification.warnings) console.log(`Warning: ${warning}`);
  writeResults('', report);
}

/** One run: a short unmeasured burst (pool connections, JIT), then the measured run with counters around it. */
async function measureRun(server: ServerProcess, workload: Workload, targets: TenantTarget[], seed: number, roundIndex: number) {
  const target = targetOf(server.name);
  if (options.prewarmSec > 0) {
    await runLoad({
      port: server.port,
      seconds: options.prewarmSec,
      connections: options.concurrency,
      next: requestGenerator(workload, target, targets, options.tenantPick, seed ^ 0x5bd1e995),
    });
  }
  const who = backendsOf(server.name);
  // Let requests still in flight from the burst finish, so their statements are not counted in this run. Each
  // server writes its buffered audit events before each count, so the run's own events, and only they, are
  // counted in its figures (the audit writer's 1 s timer would otherwise move a flush of one run into the next).
  await settle();
  const before = await server.stats({ flushAudit: true });
  const dbBefore = monitor ? await monitor.sample(who) : undefined;
  const load = await runLoad({
    port: server.port,
    seconds: options.durationSec,
    connections: options.concurrency,
    next: requestGenerator(workload, target, targets, options.tenantPick, seed),
  });
  await settle();
  const after = await server.stats({ flushAudit: true });
  const dbAfter = monitor ? await monitor.sample(who) : undefined;
  const measurement = summarizeRun(roundIndex, load, {
    serverRequests: after.requests - before.requests,
    cpuMs: (after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / 1000,
    dbCpuMs: dbBefore && dbAfter ? BackendCpu.elapsed(dbBefore, dbAfter) : null,
    roundTrips: after.roundTrips - before.roundTrips,
    statements: after.statements - before.statements,
  });
  return { measurement, latencies: load.latenciesMs };
}

/**
 * The PostgreSQL backends of each server: the role it logs in as and its pools' application_names. The API's
 * include its audit writer's pool, so its DB CPU per request contains the audit trail it keeps (the floor writes
 * its audit events on its one pool); the API without read audit events is counted the same way (its audit pool
 * writes only rolled-back mutations' events), so the two differ by what the read events cost.
 */
function backendsOf(name: ServerName): { user: string; applicationNames: string[] } {
  if (name === 'floor') return { user: APP_ROLE, applicationNames: ['bench-floor'] };
  if (name === 'postgraphile') return { user: APP_ROLE, applicationNames: ['bench-postgraphile'] };
  // The other APIs share the API's role and names; no two of them run at the same time.
  return { user: name === 'noRls' ? NO_RLS_ROLE : APP_ROLE, applicationNames: ['tenantgraph', 'tenantgraph-audit'] };
}

// ---------------------------------------------------------------------------------------------- servers

/** The manifest of the "API with trusted documents", in the run's log folder (removed with it). */
function writeTrustedDocuments(): string {
  const file = path.join(logDir, 'trusted-documents.json');
  writeFileSync(file, JSON.stringify(benchTrustedDocuments(), null, 2));
  return file;
}

async function startServers(db: BenchDatabase, names: ServerName[], extra: Partial<ServerConfig> = {}, logSuffix = ''): Promise<ServerProcess[]> {
  const servers: ServerProcess[] = [];
  for (const name of names) {
    const config: ServerConfig = {
      ...extra,
      appUrl: name === 'noRls' ? db.noRlsUrl : db.appUrl,
      jwtSecret,
      poolMax: options.pool,
      statementTimeoutMs: options.statementTimeoutMs,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs,
      ...(name === 'noRls' ? { explicitTenantFilter: true } : {}),
      ...(name === 'trusted' ? { trustedDocumentsFile: writeTrustedDocuments() } : {}),
      ...(name === 'apiUnprepared' ? { preparedStatements: 'off' as const } : {}),
      ...(name === 'apiNoReadAudit' ? { noReadAudit: true } : {}),
      ...(name === 'realtimeBaseline' ? { perSubscriberRealtime: true } : {}),
    };
    const server = await ServerProcess.start(name, config, path.join(logDir, `${name}${logSuffix}.log`));
    running.push(server);
    servers.push(server);
    log(`${SERVER_LABELS[name]}: pid ${server.pid}, http://127.0.0.1:${server.port}`);
  }
  return servers;
}

async function tenantTargets(ownerUrl: string): Promise<TenantTarget[]> {
  const tenants = await listBenchTenants(ownerUrl);
  return Promise.all(
    tenants.map(async (tenant) =>
      toTarget(tenant, await issueToken({ secret: jwtSecret, tenantId: tenant.tenantId, userId: tenant.userId, ttl: '12h' })),
    ),
  );
}

// ---------------------------------------------------------------------------------------------- scale curve

async function scaleCurve(): Promise<void> {
  database = await createBenchDatabase(log);
  log(`database: ${database.description}`);
  const servers = await startServers(
    database,
    options.servers.filter((s) => s !== 'noRls'),
  );
  if (postgresIsLocal(database)) monitor = await BackendCpu.connect(database.ownerUrl);
  const steps: {
    tenants: number;
    messages: number;
    seedSeconds: number;
    servers: Partial<Record<ServerName, { reqPerSec: number; p50Ms: number; p99Ms: number; noisy: boolean }>>;
  }[] = [];
  let loaded = 0;
  let lastSeed: LoadReport | undefined;
  for (const step of options.scaleSteps) {
    log(`scale curve: loading up to ${step} tenants`);
    lastSeed = await loadTenants(database.ownerUrl, { kind: 'uniform', tenants: step - loaded, ...options.scaleTenant });
    loaded = step;
    const targets = await tenantTargets(database.ownerUrl);
    const row: (typeof steps)[number] = { tenants: step, messages: lastSeed.messages, seedSeconds: lastSeed.seconds.load, servers: {} };
    for (const server of servers) {
      const measured: RunMeasurement[] = [];
      const latencies: number[] = [];
      for (let r = 0; r < options.warmupRounds + options.rounds; r++) {
        const run = await measureRun(server, 'Q1', targets, hashSeed(`scale-${step}`, r), r);
        if (r < options.warmupRounds) continue;
        measured.push(run.measurement);
        latencies.push(...run.latencies);
      }
      const cell = combineRounds(measured, latencies);
      row.servers[server.name] = { reqPerSec: round(cell.reqPerSec, 1), p50Ms: round(cell.p50Ms, 3), p99Ms: round(cell.p99Ms, 3), noisy: cell.noisy };
      log(`scale curve ${step} tenants, ${server.name}: ${fixed(cell.reqPerSec, 0)} req/s, p50 ${fixed(cell.p50Ms, 2)} ms`);
    }
    steps.push(row);
  }
  const first = steps[0]?.servers.api;
  const last = steps.at(-1)?.servers.api;
  const report = {
    kind: 'scale-curve',
    timestamp: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    perTenant: options.scaleTenant,
    steps,
    apiP50LastOverFirst: first && last ? round(last.p50Ms / first.p50Ms, 3) : null,
    options: { ...options, tenants: undefined, messages: undefined, zipf: undefined, workloads: ['Q1'] },
    machine: machine(loadAverageAtStart),
    versions: await versions(database.ownerUrl, ROOT),
  };
  const lines = [
    `\n## Tenantgraph scale curve (Q1) ${report.timestamp}\n`,
    `Every tenant: ${options.scaleTenant.usersPerTenant} users, ${options.scaleTenant.conversationsPerTenant} conversations, ` +
      `${options.scaleTenant.messagesPerTenant} messages; ${options.rounds} round(s) x ${options.durationSec} s per step and server, ` +
      `${options.concurrency} connections, tenants picked ${options.tenantPick}ly.\n`,
    `| tenants | messages | ${servers.map((s) => `${SERVER_LABELS[s.name]} req/s | ${SERVER_LABELS[s.name]} p50 ms`).join(' | ')} |`,
    `|---:|---:|${servers.map(() => '---:|---:').join('|')}|`,
    ...steps.map(
      (step) =>
        `| ${step.tenants} | ${step.messages} | ${servers
          .map((s) => `${fixed(step.servers[s.name]!.reqPerSec, 0)} | ${fixed(step.servers[s.name]!.p50Ms, 2)}`)
          .join(' | ')} |`,
    ),
    '',
    `API Q1 p50 at ${steps.at(-1)?.tenants} tenants / at ${steps[0]?.tenants} tenants: ${report.apiP50LastOverFirst ?? 'n/a'} (target: at most 1.15)`,
  ];
  console.log(lines.join('\n'));
  writeResults('-scale-curve', report);
}

// ---------------------------------------------------------------------------------------------- noisy neighbour

async function noisyNeighbour(): Promise<void> {
  database = await createBenchDatabase(log);
  log(`database: ${database.description}`);
  const tenants = flags.tenants ? options.tenants : quick ? 50 : 100;
  const messages = flags.messages ? options.messages : quick ? 20_000 : 200_000;
  const durationSec = flags.duration ? options.durationSec : quick ? 3 : 10;
  log(`seeding ${tenants} Zipf(s=${options.zipf}) tenants, ${messages} messages`);
  const seed = await loadTenants(database.ownerUrl, { kind: 'zipf', tenants, messages, exponent: options.zipf });
  const targets = (await tenantTargets(database.ownerUrl)).sort((a, b) => a.rank - b.rank);
  // The largest tenant floods (its scans are the longest); the victims are the tenants around the median.
  const flooder = targets[0]!;
  const middle = Math.max(1, Math.floor(targets.length / 2) - Math.floor(options.victims / 2));
  const victims = targets.slice(middle, middle + options.victims);
  if (victims.length < options.victims) fail(`--victims ${options.victims} needs more than ${targets.length} tenants`);
  // Rate limits off in both servers, so the run measures the pool's fairness alone; a share of the whole pool is
  // fairness off (TENANT_CONNECTION_SHARE = DB_POOL_MAX in a deployment).
  const [fair] = await startServers(database, ['api'], { fairShare: { rateLimit: false } }, '-fair');
  const [unfair] = await startServers(database, ['api'], { fairShare: { rateLimit: false, connectionsPerTenant: options.pool } }, '-unfair');
  const phase = (server: ServerProcess, flood: boolean, seedIndex: number) =>
    runPhase({
      port: server.port,
      seconds: durationSec,
      victimConnections: options.victimConnections,
      victims: victimRequests(victims, hashSeed('noisy', seedIndex)),
      ...(flood ? { flood: { connections: options.floodConnections, next: floodRequest(flooder) } } : {}),
    });
  // Unmeasured warm-up of both servers (pool connections, JIT, plan caches).
  await phase(fair!, false, 0);
  await phase(unfair!, false, 0);
  // The machine is shared and noisy: the three phases alternate over --rounds rounds, and each ratio is the median of
  // the rounds' ratios (a round compares phases measured seconds apart, not minutes).
  const rounds: { alone: PhaseResult; withFairness: PhaseResult; withoutFairness: PhaseResult }[] = [];
  for (let r = 0; r < options.rounds; r++) {
    await settle();
    const alone = await phase(fair!, false, 1 + 3 * r);
    await settle();
    const withFairness = await phase(fair!, true, 2 + 3 * r);
    await settle();
    const withoutFairness = await phase(unfair!, true, 3 + 3 * r);
    rounds.push({ alone, withFairness, withoutFairness });
    log(
      `round ${r + 1}/${options.rounds}: victims p95 alone ${fixed(alone.victims.p95Ms, 2)} ms, fairness on ${fixed(withFairness.victims.p95Ms, 2)} ms ` +
        `(errors ${withFairness.victims.errors + withFairness.victims.failures}, flooder ${fixed(withFairness.flooder!.okPerSec, 1)} ok/s), ` +
        `fairness off ${fixed(withoutFairness.victims.p95Ms, 2)} ms (flooder ${fixed(withoutFairness.flooder!.okPerSec, 1)} ok/s)`,
    );
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  // The round whose fairness ratio is the median one is the round the table shows.
  const byRatio = [...rounds].sort(
    (a, b) => a.withFairness.victims.p95Ms / a.alone.victims.p95Ms - b.withFairness.victims.p95Ms / b.alone.victims.p95Ms,
  );
  const { alone, withFairness, withoutFairness } = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
  const report = {
    kind: 'noisy-neighbour',
    timestamp: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    noisy: {
      victimP95OverAlone: round(median(rounds.map((x) => x.withFairness.victims.p95Ms / x.alone.victims.p95Ms)), 3),
      victimP95OverAloneWithoutFairness: round(median(rounds.map((x) => x.withoutFairness.victims.p95Ms / x.alone.victims.p95Ms)), 3),
      // Over every round: one victim error anywhere counts.
      victimErrors: rounds.reduce((sum, x) => sum + x.withFairness.victims.errors + x.withFairness.victims.failures, 0),
      healthFailures: rounds.reduce((sum, x) => sum + x.withFairness.health!.failures, 0),
      flooderReqPerSec: round(median(rounds.map((x) => x.withFairness.flooder!.okPerSec)), 2),
    },
    phases: { alone, withFairness, withoutFairness },
    rounds,
    setup: {
      tenants,
      messages,
      durationSec,
      pool: options.pool,
      floodConnections: options.floodConnections,
      victimConnections: options.victimConnections,
      flooder: { tenantId: flooder.tenantId, messages: flooder.messages },
      victims: victims.map((v) => ({ tenantId: v.tenantId, messages: v.messages })),
      floodDocument: FLOOD_DOCUMENT,
      rateLimits: 'off in both servers',
    },
    scale: seed,
    machine: machine(loadAverageAtStart),
    versions: await versions(database.ownerUrl, ROOT),
  };
  const row = (label: string, result: typeof alone) =>
    `| ${label} | ${fixed(result.victims.p50Ms, 2)} | ${fixed(result.victims.p95Ms, 2)} | ${fixed(result.victims.p99Ms, 2)} | ` +
    `${result.victims.errors + result.victims.failures} | ${result.flooder ? fixed(result.flooder.okPerSec, 1) : '—'} | ` +
    `${result.flooder ? result.flooder.errors + result.flooder.failures : '—'} | ${result.health ? `${result.health.failures}/${result.health.probes}` : '—'} |`;
  console.log(
    [
      `\n## Tenantgraph noisy neighbour ${report.timestamp}\n`,
      `${tenants} Zipf tenants, ${messages} messages; the largest tenant (${flooder.messages} messages) floods with ${options.floodConnections} connections ` +
        `of ${FLOOD_SEARCHES} aliased titleContains scans with totalCount (the most the cost limit admits); ${options.victims} median tenants ` +
        `send Q1/Q2 over ${options.victimConnections} connections; pool ${options.pool}, ${options.rounds} alternating rounds of ${durationSec} s ` +
        `per phase, rate limits off. Ratios: median over the rounds; the table shows the median round.\n`,
      '| phase | victim p50 ms | victim p95 ms | victim p99 ms | victim errors | flooder ok/s | flooder errors | /health failures |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      row('victims alone', alone),
      row('flood, fairness on', withFairness),
      row('flood, fairness off', withoutFairness),
      '',
      `noisy: ${JSON.stringify(report.noisy)}`,
    ].join('\n'),
  );
  writeResults('-noisy', report);
}

// ---------------------------------------------------------------------------------------------- realtime

async function realtimeFanOut(): Promise<void> {
  database = await createBenchDatabase(log);
  log(`database: ${database.description}`);
  const shape = {
    tenants: flags.tenants ? options.tenants : quick ? 10 : 100,
    subscribers: int('subscribers', quick ? 200 : 2000),
    roomsPerTenant: int('rooms-per-tenant', 2),
    messagesPerSec: int('rate', quick ? 50 : 200),
    largeRoom: int('large-room', quick ? 200 : 1000),
    durationSec: flags.duration ? options.durationSec : quick ? 3 : 10,
    rounds: flags.rounds ? options.rounds : quick ? 1 : 3,
    writers: (flags.writers ?? 'database') as 'database' | 'api',
  };
  if (!['database', 'api'].includes(shape.writers)) fail(`--writers must be database or api, received ${JSON.stringify(flags.writers)}`);
  // The large room's tenant first, then the tenants of the rooms; a few messages each, so conversations exist.
  const seed = await loadTenants(database.ownerUrl, {
    kind: 'uniform',
    tenants: shape.tenants + 1,
    usersPerTenant: 8,
    conversationsPerTenant: Math.max(5, shape.roomsPerTenant + 2),
    messagesPerTenant: 50,
  });
  log(`seeded ${seed.tenants} tenants in ${seed.seconds.load} s`);
  // Rate limits off in both servers (the run measures fan-out, not the per-tenant request budget that would
  // otherwise pace 1,000 subscriptions of one tenant); sockets and subscriptions per tenant raised to the large room,
  // and the pending sockets of one address to the subscribers that connect at once (all come from this machine).
  const extra: Partial<ServerConfig> = {
    fairShare: { rateLimit: false },
    realtime: {
      maxSocketsPerTenant: Math.max(1000, shape.largeRoom),
      maxSubscriptionsPerTenant: Math.max(2000, shape.largeRoom),
      maxPendingSocketsPerAddress: CONNECTING_AT_ONCE,
      // Database writers wake the servers as another replica would: through PostgreSQL, on a LISTEN connection.
      ...(shape.writers === 'database' ? { listenUrl: database.appUrl } : {}),
    },
  };
  const [api] = await startServers(database, ['api'], extra);
  const [baseline] = await startServers(database, ['realtimeBaseline'], extra);
  const report = await runRealtime({ api: api!, baseline: baseline!, ownerUrl: database.ownerUrl, appUrl: database.appUrl, jwtSecret, shape, log });
  const full = {
    kind: 'realtime',
    timestamp: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...report,
    scale: seed,
    machine: machine(loadAverageAtStart),
    versions: await versions(database.ownerUrl, ROOT),
  };
  writeResults('-realtime', full);
  // Issue 12: bench/results/latest.json carries the realtime figures next to the other workloads' results.
  mergeIntoLatest('realtime', { ...report.realtime, timestamp: full.timestamp, report: `latest-realtime.json` });
}

// ---------------------------------------------------------------------------------------------- report helpers

/** Adds (or replaces) one section of bench/results/latest.json, keeping the rest of the last side-by-side run. */
function mergeIntoLatest(key: string, section: object): void {
  const file = path.join(RESULTS_DIR, 'latest.json');
  let latest: Record<string, unknown> = {};
  try {
    latest = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // No side-by-side run yet: the file holds this section alone.
  }
  writeFileSync(file, `${JSON.stringify({ ...latest, [key]: section }, null, 2)}\n`);
  log(`results: ${key} section of bench/results/latest.json`);
}

function writeResults(suffix: string, report: object): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const name = `${startedAt.toISOString().replace(/[:.]/g, '-')}${suffix}.json`;
  const text = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(path.join(RESULTS_DIR, name), text);
  writeFileSync(path.join(RESULTS_DIR, `latest${suffix}.json`), text);
  log(`results: bench/results/${name} and bench/results/latest${suffix}.json`);
}

function describeSetup(seed: LoadReport): string {
  return (
    `${seed.tenants} tenants (Zipf s=${options.zipf}: largest ${seed.largestTenantMessages} messages, median ${seed.medianTenantMessages}, ` +
    `smallest ${seed.smallestTenantMessages}), ${seed.users} users, ${seed.conversations} conversations, ${seed.messages} messages ` +
    `(loaded in ${seed.seconds.load} s). Tenants picked ${options.tenantPick}ly per request. ` +
    `${options.concurrency} connections, pool ${options.pool} per server, ${options.rounds} measured round(s) x ${options.durationSec} s ` +
    `per workload and server (after ${options.warmupRounds} warm-up round(s); each run preceded by a ${options.prewarmSec} s burst), ` +
    `servers alternating ${options.servers.join(' ')}. Load generator, servers and PostgreSQL share ${os.cpus().length} CPUs ` +
    `(load average ${loadAverageAtStart.join(' / ')} at the start, ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' / ')} at the end). ` +
    `Run took ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s.`
  );
}

/** Which of issue 4's and issue 9's targets hold in this run. */
function targetsMet(results: Results, ratios: ReturnType<typeof ratiosOf>) {
  const check = (value: number | null | undefined, ok: (v: number) => boolean) => (value == null ? null : ok(value));
  return {
    apiAtLeast07xFloor: Object.fromEntries((['Q1', 'Q2', 'M1'] as const).map((w) => [w, check(ratios[w]?.apiOverFloor, (v) => v >= 0.7)])),
    apiAtLeast097xNoRls: Object.fromEntries((['Q1', 'Q2', 'M1'] as const).map((w) => [w, check(ratios[w]?.apiOverNoRls, (v) => v >= 0.97)])),
    apiP99AtMost3xP50: Object.fromEntries(Object.entries(results).map(([w, cells]) => [w, check(cells?.api?.tailRatio, (v) => v <= 3)])),
    // Issue 9: API >= 1.0 x PostGraphile (the goal is 1.5 x), and no more database CPU per read than PostGraphile.
    apiAtLeast1xPostgraphile: Object.fromEntries(
      (['Q1', 'Q2', 'M1', 'MIX'] as const).map((w) => [w, check(ratios[w]?.apiOverPostgraphile, (v) => v >= 1)]),
    ),
    apiDbCpuAtMostPostgraphiles: Object.fromEntries(
      (['Q1', 'Q2'] as const).map((w) => {
        const api = results[w]?.api?.dbCpuMsPerRequest;
        const peer = results[w]?.postgraphile?.dbCpuMsPerRequest;
        return [w, api == null || peer == null ? null : api <= peer];
      }),
    ),
    // Issue 9: recording every read's context switch costs at most 5 % of the API's req/s.
    apiAtLeast095xNoReadAudit: Object.fromEntries(
      (['Q1', 'Q2', 'M1', 'MIX'] as const).map((w) => [w, check(ratios[w]?.apiOverNoReadAudit, (v) => v >= 0.95)]),
    ),
    q1StatementsAtMostFloors: check(results.Q1?.api?.statementsPerRequest, (v) => v <= (results.Q1?.floor?.statementsPerRequest ?? 6) + 0.05),
  };
}

/** The backends' CPU time can be read from /proc only when PostgreSQL runs on this machine. */
function postgresIsLocal(db: BenchDatabase): boolean {
  return db.embedded || ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(db.ownerUrl).hostname);
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 250));
}

function hashSeed(label: string, index: number): number {
  let h = 2166136261 ^ index;
  for (const char of label) h = Math.imul(h ^ char.charCodeAt(0), 16777619);
  return h >>> 0;
}

function eta(started: number, done: number, total: number): string {
  const remaining = ((Date.now() - started) / done) * (total - done);
  return `~${Math.ceil(remaining / 1000)} s left`;
}
