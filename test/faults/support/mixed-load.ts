import pg from 'pg';

/**
 * A mixed load against a running API for fault tests: writers post uniquely numbered messages into one
 * conversation, readers list conversations. Every answer is classified, so a test can assert that the server
 * was honest while the fault lasted (success, or a clean 503 SERVICE_UNAVAILABLE / SERVER_BUSY with Retry-After —
 * nothing else), and every acknowledged write is remembered, so a test can check as the owner that each is stored once.
 */

export type Answer =
  | { kind: 'ok' }
  | { kind: 'unavailable' }
  /** Anything else: a 500, a 200 with INTERNAL_SERVER_ERROR, a 503 without Retry-After, a refused socket. */
  | { kind: 'unexpected'; detail: string };

export interface LoadTarget {
  url: string;
  authorization: string;
  conversationId: string;
}

export interface MixedLoad {
  /** Acknowledged writes: the bodies of messages the API answered with an id. */
  readonly acked: readonly string[];
  readonly answers: readonly Answer[];
  /** Resolves once `predicate` holds for the answers so far (checked after each answer); rejects after `timeoutMs`. */
  until(predicate: (load: MixedLoad) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Lets each loop finish its request in flight, then stops. */
  stop(): Promise<void>;
  count(kind: Answer['kind']): number;
  /** The unexpected answers, for an assertion message. */
  unexpected(): string[];
}

/**
 * Honest answers while the database is away: SERVICE_UNAVAILABLE, or SERVER_BUSY when requests queued in the fair
 * scheduler behind connections that hang (PgBouncer holding new connections until RESUME) and gave up waiting.
 */
const RETRYABLE_503_CODES = new Set<unknown>(['SERVICE_UNAVAILABLE', 'SERVER_BUSY']);

const POST = 'mutation FaultPost($input: PostMessageInput!) { postMessage(input: $input) { message { id body } } }';
const READ = 'query FaultRead { conversations(first: 5) { nodes { id title messageCount } } }';

export function startMixedLoad(target: LoadTarget, options: { writers?: number; readers?: number; tag: string }): MixedLoad {
  const acked: string[] = [];
  const answers: Answer[] = [];
  const waiters = new Set<() => void>();
  let running = true;
  let sequence = 0;

  const record = (answer: Answer) => {
    answers.push(answer);
    for (const wake of [...waiters]) wake();
  };

  async function send(query: string, variables: Record<string, unknown>): Promise<{ answer: Answer; json?: any }> {
    let response: Response;
    try {
      response = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: target.authorization },
        body: JSON.stringify({ query, variables }),
        // A server that hangs instead of answering is a failure too; 20 s is far beyond any honest answer.
        signal: AbortSignal.timeout(20_000),
      });
    } catch (error) {
      return { answer: { kind: 'unexpected', detail: `no answer: ${(error as Error).message}` } };
    }
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      return { answer: { kind: 'unexpected', detail: `${response.status} not JSON: ${text.slice(0, 200)}` } };
    }
    const codes: unknown[] = (json.errors ?? []).map((error: any) => error.extensions?.code);
    if (response.status === 200 && codes.length === 0) return { answer: { kind: 'ok' }, json };
    if (response.status === 503 && codes.length > 0 && codes.every((code) => RETRYABLE_503_CODES.has(code)) && response.headers.get('retry-after')) {
      return { answer: { kind: 'unavailable' }, json };
    }
    return { answer: { kind: 'unexpected', detail: `${response.status} ${text.slice(0, 300)}` }, json };
  }

  async function writer(index: number) {
    while (running) {
      const body = `${options.tag} writer ${index} message ${sequence++}`;
      const { answer, json } = await send(POST, { input: { conversationId: target.conversationId, body } });
      if (answer.kind === 'ok' && json.data?.postMessage?.message?.body !== body) {
        record({ kind: 'unexpected', detail: `acknowledged something else: ${JSON.stringify(json).slice(0, 300)}` });
        continue;
      }
      if (answer.kind === 'ok') acked.push(body);
      record(answer);
    }
  }

  async function reader() {
    while (running) record((await send(READ, {})).answer);
  }

  const loops = [
    ...Array.from({ length: options.writers ?? 3 }, (_, index) => writer(index)),
    ...Array.from({ length: options.readers ?? 2 }, () => reader()),
  ];

  const load: MixedLoad = {
    acked,
    answers,
    until(predicate, what, timeoutMs = 30_000) {
      if (predicate(load)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${what}; answers so far: ok ${load.count('ok')}, unavailable ${load.count('unavailable')}, unexpected ${load.unexpected().slice(0, 5).join(' | ')}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (!predicate(load)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
      });
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    count: (kind) => answers.filter((answer) => answer.kind === kind).length,
    unexpected: () => answers.flatMap((answer) => (answer.kind === 'unexpected' ? [answer.detail] : [])),
  };
  return load;
}

/**
 * Puts the tenant on a plan of its own without a rate limit worth the name: the load sends one tenant's requests
 * as fast as it can, and 429 RATE_LIMITED (honest, but not what these tests are about) would hide the faults.
 * Plans are data (migration 0008), so this is what an operator would do for such a tenant.
 */
export async function exemptFromRateLimit(ownerUrl: string, tenantId: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(
      `insert into plan_limits (plan, requests_per_second, burst, connection_share, statement_timeout_ms, request_timeout_ms)
       values ('fault_tests', 1000000, 1000000, 0.5, 5000, 20000) on conflict (plan) do nothing`,
    );
    await client.query("update tenants set plan = 'fault_tests' where id = $1", [tenantId]);
  } finally {
    await client.end();
  }
}

/** After `since` answers, at least `n` more of `kind`: for "wait until the fault shows" and "until it recovered". */
export const moreAnswers = (kind: Answer['kind'], n: number, since: number) => (load: MixedLoad) =>
  load.answers.slice(since).filter((answer) => answer.kind === kind).length >= n;

/**
 * The owner's view of the conversation after a fault: every acknowledged body stored exactly once, no body
 * stored twice, the trigger-maintained counter equal to the rows, and one committed audit event per message.
 */
export async function checkStoredWrites(ownerUrl: string, tenantId: string, conversationId: string, acked: readonly string[]) {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const bodies = await client.query<{ body: string; copies: number }>(
      'select body, count(*)::int as copies from messages where tenant_id = $1 and conversation_id = $2 group by body',
      [tenantId, conversationId],
    );
    const copies = new Map(bodies.rows.map((row) => [row.body, row.copies]));
    const counter = await client.query<{ message_count: number }>('select message_count from conversations where tenant_id = $1 and id = $2', [
      tenantId,
      conversationId,
    ]);
    const audited = await client.query<{ n: number }>(
      `select count(*)::int as n from audit_events
        where tenant_id = $1 and operation_name = 'FaultPost' and operation_type = 'mutation' and outcome = 'committed'`,
      [tenantId],
    );
    const stored = [...copies.values()].reduce((sum, n) => sum + n, 0);
    return {
      ackedMissing: acked.filter((body) => copies.get(body) !== 1),
      duplicated: [...copies].filter(([, n]) => n > 1).map(([body]) => body),
      stored,
      messageCount: counter.rows[0]!.message_count,
      committedAuditEvents: audited.rows[0]!.n,
    };
  } finally {
    await client.end();
  }
}
