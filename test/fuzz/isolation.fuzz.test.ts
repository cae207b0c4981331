/**
 * Property-based tenant isolation fuzzing (issue 3 §1), with fast-check.
 *
 * fast-check generates scenarios: waves of random operations covering every query and mutation of the public API
 * (node, alone and several in one request, viewer, conversations with filters and cursors, conversation with
 * messages/lastMessage/messageCount/totalCount, users, auditEvents, createConversation, renameConversation,
 * archiveConversation, postMessage, inviteUser), by ADMINs and MEMBERs of 4 fresh tenants, often with ids, node ids and cursors that *other* tenants
 * were given. Each wave's operations are sent at once, over HTTP, to the real server on a pool of 2 connections.
 * A model of each tenant predicts every answer (operations whose effects would depend on their interleaving are
 * deferred to the next wave; reads that race their own tenant's writes accept any state between before and after).
 * After every wave, each tenant that wrote reads its whole view through the API and the database is read as the
 * owner; both must equal the model. No response may contain another tenant's marker (every string a tenant writes
 * carries its marker), row id or tenant id; a rejected operation (NOT_FOUND / BAD_USER_INPUT / FORBIDDEN) must
 * change nothing.
 *
 * Subscribers (issue 12 §3): between waves, members of the run's tenants subscribe over graphql-ws, on real
 * sockets, to messagePosted (own and foreign conversation ids) and conversationChanged, without `after`, with their
 * tenant's position before an earlier wave (replay) or with another tenant's cursor; some disconnect and resume
 * with the last cursor they received, before a wave or while its writes are in flight; bursts post concurrently
 * into a subscribed conversation. After the last wave (delivery-checks.ts): no frame shows another tenant; every
 * own subscription received exactly the model's events after its start, each once, in wave order; a foreign
 * conversation or cursor yields NOT_FOUND / BAD_USER_INPUT or nothing.
 *
 * Files: operation-specs.ts (what is generated), resolve-references.ts (picking ids, cursors and texts),
 * read-operations.ts and write-operations.ts (predictions and checks), scenario-runner.ts (waves),
 * view-verifier.ts and ground-truth.ts (after each wave), leak-detector.ts (raw-text scan; leak-detector.test.ts),
 * subscriber-specs.ts, subscribers.ts and delivery-checks.ts (subscribers).
 *
 * Running it:
 *   npm test                                   CI: a random seed, as many runs as 1,000 operations need
 *   npm run fuzz -- --runs 200                 more runs (same as FUZZ_RUNS=200 npx vitest run test/fuzz)
 *   npm run fuzz -- --seed 123 --runs 20       replay a printed seed (FUZZ_SEED=123 FUZZ_RUNS=20)
 *   npm run fuzz -- --seed 123 --path "7:1:0"  replay just the shrunk counterexample fast-check printed (FUZZ_PATH)
 *   --budget SECONDS (FUZZ_BUDGET_SECONDS)     stop generating/shrinking after this long (default 240 + 15 per run)
 *   --verbose 1 (FUZZ_VERBOSE)                 also list every failing scenario met while shrinking
 * The seed is printed first. On a failure fast-check shrinks the scenario towards a minimal one (every shrinking
 * step replays a scenario on fresh tenants, so this takes minutes) and prints it with the seed and path.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { directAppUrl } from '../support/realtime-client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { readFuzzConfig } from './fuzz-config.js';
import { createSender } from './fuzz-client.js';
import { LeakDetector } from './leak-detector.js';
import { scenarioSpec, type ScenarioShape } from './operation-specs.js';
import { publicSchema, recordingRootFields, rootFieldsOf, unexercisedRootFields } from './root-field-coverage.js';
import { runScenario, type ScenarioDependencies } from './scenario-runner.js';
import { subscriberPlanSpec } from './subscriber-specs.js';

const config = readFuzzConfig();
const SHAPE: ScenarioShape = { maxWaves: 16, maxOperationsPerWave: 16 };
const TENANTS = 4;
/** One generated run: its waves of operations, and what its subscribers do between them. */
const RUN = fc.record({ waves: scenarioSpec(SHAPE), subscribers: subscriberPlanSpec(SHAPE) });

let server: TestServer;
let owner: pg.Client;
let deps: ScenarioDependencies;
/** Every root field (`Query.viewer`, …) the run sent: the schema's root fields must all be among them. */
const exercised = new Set<string>();

beforeAll(async () => {
  // A pool of 2 makes every connection serve all tenants in turn while many requests wait for one. The wait is
  // long so that a busy CI machine yields slow answers, never 503s.
  // The subscribers' wake-ups also travel through a LISTEN connection, straight to PostgreSQL (in CI's PgBouncer
  // run the app role's pool goes through PgBouncer; LISTEN needs a session).
  server = await startTestServer({ pool: { max: 2, acquireTimeoutMs: 60_000 }, realtime: { listenUrl: directAppUrl() } });
  owner = new pg.Client({ connectionString: inject('ownerUrl'), application_name: 'tenantgraph-fuzz-owner' });
  await owner.connect();
  const schema = publicSchema();
  deps = {
    send: recordingRootFields(createSender(server.url), exercised),
    leaks: new LeakDetector(),
    ownerUrl: inject('ownerUrl'),
    owner,
    tenantsPerRun: TENANTS,
    coverage: new Map(),
    realtime: {
      url: server.url,
      subscriptionsOf: (tenantId) => server.realtime.subscriptionsOf(tenantId),
      recordDocument: (query) => rootFieldsOf(query, schema).forEach((field) => exercised.add(field)),
    },
  };
});
afterAll(async () => {
  await owner?.end();
  await server?.close();
});

/** The fewest runs whose generated scenarios hold `minimum` operations (fc.sample replays fc.assert's values). */
function runsFor(minimum: number): number {
  const scenarios = fc.sample(RUN, { seed: config.seed, numRuns: 500 });
  let operations = 0;
  for (const [index, scenario] of scenarios.entries()) {
    operations += scenario.waves.flat().length;
    if (operations >= minimum) return index + 1;
  }
  return scenarios.length;
}

describe('tenant isolation (property-based, fast-check)', () => {
  it(
    'shows each tenant exactly its own data under random concurrent operations, and nothing of any other',
    async () => {
      const numRuns = config.runs ?? runsFor(config.minOperations);
      console.log(
        `[fuzz] seed ${config.seed}, ${numRuns} runs${config.path ? `, path ${config.path}` : ''}. ` +
          `Replay: npm run fuzz -- --seed ${config.seed} --runs ${numRuns}`,
      );
      let operations = 0;
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(RUN, async ({ waves, subscribers }) => {
          operations += await runScenario(waves, deps, subscribers);
        }),
        {
          seed: config.seed,
          numRuns,
          verbose: config.verbose,
          // Every shrinking step replays a whole scenario against the server; past the budget fast-check stops and
          // reports the smallest failing scenario found so far (with its seed and path, which replay it).
          plugins: [fc.interruptAfterTimeLimit(config.budgetMs)],
          ...(config.path ? { path: config.path, endOnFailure: true } : {}),
        },
      );
      const coverage = [...deps.coverage]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([op, counts]) =>
            `  ${op}: ${[...counts]
              .sort()
              .map(([outcome, count]) => `${outcome} ${count}`)
              .join(', ')}`,
        );
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`[fuzz] ${operations} operations in ${numRuns} runs, ${seconds} s\n${coverage.join('\n')}`);
      if (config.runs === null && config.path === null) {
        const what = 'operations run (fewer when the time budget stopped fast-check early)';
        expect(operations, what).toBeGreaterThanOrEqual(config.minOperations);
        // A root field the fuzzer never sent is a query, mutation or subscription outside its isolation proof: add
        // an operation spec for it (test/fuzz/operation-specs.ts, documents.ts, read- or write-operations.ts) or a
        // subscriber action (subscriber-specs.ts, subscribers.ts, delivery-checks.ts).
        const unexercised = unexercisedRootFields(exercised);
        expect(unexercised, 'root fields of schema/*.graphql the fuzzer has no operation for').toEqual([]);
      }
    },
    config.budgetMs + 60_000,
  );
});
