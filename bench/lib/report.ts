import { percentile } from './load.js';
import { SERVER_LABELS, type ServerName } from './servers.js';
import { WORKLOAD_LABELS, type Workload } from './workloads.js';

/** One measured run of one server on one workload. */
export interface RunMeasurement {
  round: number;
  responses: number;
  seconds: number;
  reqPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  failures: number;
  /** Responses the server finished during the run (the per-request figures divide by this). */
  serverRequests: number;
  cpuMs: number;
  dbCpuMs: number | null;
  roundTrips: number;
  statements: number;
}

/** The measured rounds of one server on one workload, combined. */
export interface CellResult {
  reqPerSec: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** p99 / p50 (target: at most 3). */
  tailRatio: number;
  roundTripsPerRequest: number;
  statementsPerRequest: number;
  serverCpuMsPerRequest: number;
  /** CPU of the PostgreSQL backends serving this server, when PostgreSQL runs on this machine. */
  dbCpuMsPerRequest: number | null;
  errors: number;
  failures: number;
  /** (max - min) / mean of the rounds' req/s. */
  roundSpread: number;
  noisy: boolean;
  rounds: RunMeasurement[];
}

export const NOISE_THRESHOLD = 0.1;

export function summarizeRun(
  round: number,
  load: { responses: number; seconds: number; latenciesMs: number[]; errors: number; non2xx: number; failures: number },
  counters: { serverRequests: number; cpuMs: number; dbCpuMs: number | null; roundTrips: number; statements: number },
): RunMeasurement {
  const sorted = [...load.latenciesMs].sort((a, b) => a - b);
  return {
    round,
    responses: load.responses,
    seconds: load.seconds,
    reqPerSec: load.responses / load.seconds,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    errors: load.errors,
    non2xx: load.non2xx,
    failures: load.failures,
    ...counters,
  };
}

export function combineRounds(rounds: RunMeasurement[], latenciesMs: number[]): CellResult {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const responses = sum(rounds.map((r) => r.serverRequests)) || 1;
  const rates = rounds.map((r) => r.reqPerSec);
  const mean = sum(rates) / rates.length;
  const spread = rates.length > 1 ? (Math.max(...rates) - Math.min(...rates)) / mean : 0;
  const dbCpu = rounds.every((r) => r.dbCpuMs !== null) ? sum(rounds.map((r) => r.dbCpuMs!)) / responses : null;
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  return {
    reqPerSec: mean,
    p50Ms: p50,
    p95Ms: percentile(sorted, 95),
    p99Ms: p99,
    tailRatio: p99 / p50,
    roundTripsPerRequest: sum(rounds.map((r) => r.roundTrips)) / responses,
    statementsPerRequest: sum(rounds.map((r) => r.statements)) / responses,
    serverCpuMsPerRequest: sum(rounds.map((r) => r.cpuMs)) / responses,
    dbCpuMsPerRequest: dbCpu,
    errors: sum(rounds.map((r) => r.errors)),
    failures: sum(rounds.map((r) => r.failures)),
    roundSpread: spread,
    noisy: spread > NOISE_THRESHOLD,
    rounds,
  };
}

export type Results = Partial<Record<Workload, Partial<Record<ServerName, CellResult>>>>;
export type Ratios = Partial<
  Record<
    Workload,
    {
      apiOverFloor: number | null;
      apiOverNoRls: number | null;
      apiOverPostgraphile: number | null;
      trustedOverApi: number | null;
      apiOverUnprepared: number | null;
      /** API ÷ API without read audit events: what recording every read's context switch costs (issue 9 §3: >= 0.95). */
      apiOverNoReadAudit: number | null;
    }
  >
>;

export function ratiosOf(results: Results): Ratios {
  const ratios: Ratios = {};
  for (const [workload, cells] of Object.entries(results) as [Workload, Partial<Record<ServerName, CellResult>>][]) {
    const api = cells.api?.reqPerSec;
    ratios[workload] = {
      apiOverFloor: api && cells.floor ? round(api / cells.floor.reqPerSec, 3) : null,
      apiOverNoRls: api && cells.noRls ? round(api / cells.noRls.reqPerSec, 3) : null,
      apiOverPostgraphile: api && cells.postgraphile ? round(api / cells.postgraphile.reqPerSec, 3) : null,
      trustedOverApi: api && cells.trusted ? round(cells.trusted.reqPerSec / api, 3) : null,
      apiOverUnprepared: api && cells.apiUnprepared ? round(api / cells.apiUnprepared.reqPerSec, 3) : null,
      apiOverNoReadAudit: api && cells.apiNoReadAudit ? round(api / cells.apiNoReadAudit.reqPerSec, 3) : null,
    };
  }
  return ratios;
}

export function markdownTable(results: Results, ratios: Ratios): string {
  const lines = [
    '| workload | server | req/s | p50 ms | p95 ms | p99 ms | p99/p50 | SQL round trips/req | SQL statements/req | server CPU ms/req | DB CPU ms/req | errors | rounds spread |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [workload, cells] of Object.entries(results) as [Workload, Partial<Record<ServerName, CellResult>>][]) {
    for (const [server, cell] of Object.entries(cells) as [ServerName, CellResult][]) {
      lines.push(
        `| ${WORKLOAD_LABELS[workload]} | ${SERVER_LABELS[server]} | ${fixed(cell.reqPerSec, 0)} | ${fixed(cell.p50Ms, 2)} | ` +
          `${fixed(cell.p95Ms, 2)} | ${fixed(cell.p99Ms, 2)} | ${fixed(cell.tailRatio, 2)} | ${fixed(cell.roundTripsPerRequest, 2)} | ` +
          `${fixed(cell.statementsPerRequest, 2)} | ${fixed(cell.serverCpuMsPerRequest, 3)} | ` +
          `${cell.dbCpuMsPerRequest === null ? 'n/a' : fixed(cell.dbCpuMsPerRequest, 3)} | ${cell.errors + cell.failures} | ` +
          `${fixed(cell.roundSpread * 100, 1)} %${cell.noisy ? ' (noisy)' : ''} |`,
      );
    }
  }
  lines.push(
    '',
    '| workload | API / floor (req/s) | API / API without RLS (req/s) | API / PostGraphile (req/s) | API with trusted documents / API (req/s) | API / API unprepared (req/s) | API / API without read audit events (req/s) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const [workload, ratio] of Object.entries(ratios) as [Workload, NonNullable<Ratios[Workload]>][]) {
    lines.push(
      `| ${workload} | ${ratio.apiOverFloor ?? 'n/a'} | ${ratio.apiOverNoRls ?? 'n/a'} | ${ratio.apiOverPostgraphile ?? 'n/a'} | ${ratio.trustedOverApi ?? 'n/a'} | ${ratio.apiOverUnprepared ?? 'n/a'} | ${ratio.apiOverNoReadAudit ?? 'n/a'} |`,
    );
  }
  return lines.join('\n');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
