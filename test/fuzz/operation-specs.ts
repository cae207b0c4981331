import { DERIVED_ROOT_FIELDS } from './derived-operations.js';
import fc from 'fast-check';
import type { Role } from './documents.js';

/**
 * Abstract operations: what to do, by whom, on which object, with references (`pick`) that are resolved against
 * the model only when the operation runs. Indices instead of ids keep every generated value valid whatever ran
 * before it, which is what lets fast-check shrink a failing sequence by dropping operations.
 */
export type RefKind = 'Tenant' | 'User' | 'Conversation' | 'Message' | 'AuditEvent';
export type NodeKind = Exclude<RefKind, 'AuditEvent'>;
export type CursorKind = 'Conversation' | 'Message' | 'User' | 'AuditEvent';

/** An id: one the caller's tenant was given, one another tenant was given, a well-formed unknown one, or junk. */
export type IdRef =
  { from: 'own' | 'foreign'; kind: RefKind; pick: number } | { from: 'missing'; kind: NodeKind; pick: number } | { from: 'garbage'; variant: number };

/** An `after` cursor, resolved the same way; `crafted` is a well-formed cursor far in the future or past. */
export type CursorRef =
  | { from: 'own' | 'foreign'; kind: CursorKind; pick: number }
  | { from: 'crafted'; time: 'future' | 'past' }
  | { from: 'garbage'; variant: number }
  | null;

/** A title, body or display name; the tenant's marker is added when it is resolved. */
export type TextSpec = { kind: 'words'; words: string[]; pad: number } | { kind: 'boundary'; over: boolean } | { kind: 'invalid'; variant: number };

export type EmailSpec =
  | { kind: 'own'; n: number; upper: boolean; pad: boolean }
  | { kind: 'shared'; n: number; upper: boolean }
  | { kind: 'existing'; pick: number; upper: boolean }
  | { kind: 'invalid'; variant: number };

export type TitleQuery =
  | { kind: 'substring'; pick: number; start: number; length: number; flip: boolean }
  | { kind: 'word'; word: number; flip: boolean }
  | { kind: 'foreignMarker'; pick: number }
  | { kind: 'ownMarker' }
  | { kind: 'special'; variant: number };

export type SinceSpec = 'past' | 'future' | 'invalid' | null;

interface CallerSpec {
  /** Tenant index (modulo the number of tenants) and user index (modulo its members). */
  tenant: number;
  user: number;
}

export type OperationSpec = CallerSpec &
  (
    | { op: 'viewer' }
    | { op: 'node'; id: IdRef }
    | { op: 'nodes'; ids: IdRef[] }
    | { op: 'conversation'; id: IdRef; first: number | null; after: CursorRef; backward: boolean }
    | {
        op: 'conversations';
        first: number | null;
        after: CursorRef;
        backward: boolean;
        archived: boolean | null;
        titleContains: TitleQuery | null;
      }
    | { op: 'dashboard'; first: number; messages: number | null }
    | { op: 'users'; first: number | null; after: CursorRef; backward: boolean }
    | {
        op: 'auditEvents';
        first: number | null;
        after: CursorRef;
        userId: IdRef | null;
        operationType: 'QUERY' | 'MUTATION' | null;
        since: SinceSpec;
      }
    | { op: 'createConversation'; title: TextSpec }
    | { op: 'renameConversation'; id: IdRef; title: TextSpec }
    | { op: 'archiveConversation'; id: IdRef }
    | { op: 'postMessage'; conversation: IdRef; body: TextSpec }
    | { op: 'inviteUser'; email: EmailSpec; displayName: TextSpec; role: Role | null }
    /** A root field no hand-written spec covers, derived from the SDL (derived-operations.ts): which one, and a seed. */
    | { op: 'derived'; field: number; seed: number }
  );

export type OperationName = OperationSpec['op'];

/** Words for titles and bodies: SQL, LIKE wildcards, quotes, and characters longer than one UTF-16 unit. */
export const WORDS = [
  'alpha',
  'Beta',
  'GAMMA',
  'delta',
  '100%',
  'snake_case',
  'back\\slash',
  "O'Brien",
  "'; DROP TABLE conversations;--",
  '😀',
  '会話',
  'Ünïcödé',
  '"quoted"',
  '%_%',
] as const;

export const GARBAGE_ID_COUNT = 9;
export const GARBAGE_CURSOR_COUNT = 8;
export const INVALID_TEXT_COUNT = 4;
export const INVALID_EMAIL_COUNT = 4;
export const SPECIAL_QUERY_COUNT = 6;

const pick = fc.nat({ max: 1_000 });

const ANY_KIND = fc.constantFrom<RefKind>('Tenant', 'User', 'Conversation', 'Message', 'AuditEvent');

/** Mostly ids of the `preferred` kind, the caller's own or another tenant's; sometimes any kind, unknown or junk. */
function idRef(preferred: fc.Arbitrary<RefKind>): fc.Arbitrary<IdRef> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ from: fc.constant('own' as const), kind: preferred, pick }) },
    { weight: 5, arbitrary: fc.record({ from: fc.constant('foreign' as const), kind: preferred, pick }) },
    {
      weight: 2,
      arbitrary: fc.record({
        from: fc.constantFrom('own' as const, 'foreign' as const),
        kind: ANY_KIND,
        pick,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        from: fc.constant('missing' as const),
        kind: fc.constantFrom<NodeKind>('Tenant', 'User', 'Conversation', 'Message'),
        pick,
      }),
    },
    { weight: 1, arbitrary: fc.record({ from: fc.constant('garbage' as const), variant: fc.nat({ max: GARBAGE_ID_COUNT - 1 }) }) },
  );
}

/** Ids that decode (so a request of several answers each without an error): own, foreign or unknown. */
const decodableIdRef: fc.Arbitrary<IdRef> = fc.oneof(
  fc.record({
    from: fc.constantFrom('own' as const, 'foreign' as const),
    kind: fc.constantFrom<RefKind>('Tenant', 'User', 'Conversation', 'Message'),
    pick,
  }),
  fc.record({ from: fc.constant('missing' as const), kind: fc.constantFrom<NodeKind>('User', 'Conversation', 'Message'), pick }),
);

function cursorRef(preferred: CursorKind): fc.Arbitrary<CursorRef> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 4, arbitrary: fc.record({ from: fc.constant('own' as const), kind: fc.constant(preferred), pick }) },
    { weight: 3, arbitrary: fc.record({ from: fc.constant('foreign' as const), kind: fc.constant(preferred), pick }) },
    {
      weight: 2,
      arbitrary: fc.record({
        from: fc.constantFrom('own' as const, 'foreign' as const),
        kind: fc.constantFrom<CursorKind>('Conversation', 'Message', 'User', 'AuditEvent'),
        pick,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ from: fc.constant('crafted' as const), time: fc.constantFrom('future' as const, 'past' as const) }),
    },
    { weight: 1, arbitrary: fc.record({ from: fc.constant('garbage' as const), variant: fc.nat({ max: GARBAGE_CURSOR_COUNT - 1 }) }) },
  );
}

/** A page size: mostly small (so pages end and cursors matter), sometimes the default, rarely out of range. */
/**
 * Whether a page is fetched backward: `first`/`after` become `last`/`before` (the same size, the same cursor).
 * Mostly forward, so the forward paths keep their coverage.
 */
const backward = fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

const first = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 2, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 101) },
);

const text: fc.Arbitrary<TextSpec> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('words' as const),
      words: fc.array(fc.constantFrom(...WORDS), { maxLength: 3 }),
      pad: fc.nat({ max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('boundary' as const), over: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('invalid' as const), variant: fc.nat({ max: INVALID_TEXT_COUNT - 1 }) }) },
);

const email: fc.Arbitrary<EmailSpec> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('own' as const), n: fc.nat({ max: 5 }), upper: fc.boolean(), pad: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('shared' as const), n: fc.nat({ max: 3 }), upper: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('existing' as const), pick, upper: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('invalid' as const), variant: fc.nat({ max: INVALID_EMAIL_COUNT - 1 }) }) },
);

const titleQuery: fc.Arbitrary<TitleQuery> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('substring' as const),
      pick,
      start: fc.nat({ max: 40 }),
      length: fc.integer({ min: 1, max: 12 }),
      flip: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('word' as const), word: fc.nat({ max: WORDS.length - 1 }), flip: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('foreignMarker' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ownMarker' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('special' as const), variant: fc.nat({ max: SPECIAL_QUERY_COUNT - 1 }) }) },
);

const caller = { tenant: fc.nat({ max: 7 }), user: fc.nat({ max: 7 }) };

function operation<T extends Record<string, fc.Arbitrary<unknown>>>(op: OperationName, fields: T) {
  return fc.record({ op: fc.constant(op), ...caller, ...fields }) as unknown as fc.Arbitrary<OperationSpec>;
}

/** One operation of the public API, weighted so that tenants accumulate data that the reads then exercise. */
export const operationSpec: fc.Arbitrary<OperationSpec> = fc.oneof(
  { weight: 1, arbitrary: operation('viewer', {}) },
  { weight: 4, arbitrary: operation('node', { id: idRef(ANY_KIND) }) },
  { weight: 2, arbitrary: operation('nodes', { ids: fc.array(decodableIdRef, { minLength: 2, maxLength: 5 }) }) },
  { weight: 4, arbitrary: operation('conversation', { id: idRef(fc.constant('Conversation')), first, after: cursorRef('Message'), backward }) },
  {
    weight: 4,
    arbitrary: operation('conversations', {
      first,
      after: cursorRef('Conversation'),
      backward,
      archived: fc.constantFrom(null, true, false),
      titleContains: fc.option(titleQuery, { freq: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: operation('dashboard', { first: fc.integer({ min: 0, max: 5 }), messages: fc.option(fc.integer({ min: 0, max: 4 })) }),
  },
  { weight: 2, arbitrary: operation('users', { first, after: cursorRef('User'), backward }) },
  {
    weight: 2,
    arbitrary: operation('auditEvents', {
      first,
      after: cursorRef('AuditEvent'),
      userId: fc.option(idRef(fc.constant('User'))),
      operationType: fc.constantFrom(null, 'QUERY' as const, 'MUTATION' as const),
      since: fc.constantFrom<SinceSpec>(null, 'past', 'future', 'invalid'),
    }),
  },
  { weight: 5, arbitrary: operation('createConversation', { title: text }) },
  { weight: 3, arbitrary: operation('renameConversation', { id: idRef(fc.constant('Conversation')), title: text }) },
  { weight: 2, arbitrary: operation('archiveConversation', { id: idRef(fc.constant('Conversation')) }) },
  { weight: 8, arbitrary: operation('postMessage', { conversation: idRef(fc.constant('Conversation')), body: text }) },
  {
    weight: 2,
    arbitrary: operation('inviteUser', { email, displayName: text, role: fc.constantFrom(null, 'ADMIN' as const, 'MEMBER' as const) }),
  },
  // Root fields added since the hand-written specs (a new module's), fuzzed from the SDL until they have their own.
  ...(DERIVED_ROOT_FIELDS.length
    ? [
        {
          weight: 2 * DERIVED_ROOT_FIELDS.length,
          arbitrary: operation('derived', { field: fc.nat({ max: DERIVED_ROOT_FIELDS.length - 1 }), seed: fc.nat() }),
        },
      ]
    : []),
);

export interface ScenarioShape {
  maxWaves: number;
  maxOperationsPerWave: number;
}

/** A scenario: waves of operations; each wave's operations are sent at once. */
export function scenarioSpec(shape: ScenarioShape): fc.Arbitrary<OperationSpec[][]> {
  return fc.array(fc.array(operationSpec, { minLength: 1, maxLength: shape.maxOperationsPerWave, size: 'max' }), {
    minLength: 1,
    maxLength: shape.maxWaves,
    size: 'max',
  });
}
