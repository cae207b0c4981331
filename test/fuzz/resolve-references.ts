import { encodeGlobalId } from '../../src/graphql/global-id.js';
import type { CursorKind, CursorRef, EmailSpec, IdRef, NodeKind, RefKind, TextSpec, TitleQuery } from './operation-specs.js';
import { WORDS } from './operation-specs.js';
import { codePoints, type TenantModel } from './tenant-model.js';

/**
 * Turns the abstract references of an operation into the strings sent, using only what the API has returned so
 * far (the pools are the tenants' models). Picks index lists ordered by creation, so a seed replays the same
 * choices. Each result says whose it is, which is what the prediction of the outcome needs.
 */

export interface ResolvedId {
  value: string;
  /** The tenant whose object this is; null for ids that exist nowhere or cannot be decoded. */
  owner: TenantModel | null;
  /** The type the id decodes to; null when it does not decode at all. */
  kind: RefKind | null;
}

export interface ResolvedCursor {
  value: string | null;
  /** What the cursor points at, when it is one the API returned. */
  origin: { owner: TenantModel; kind: CursorKind; entityId: string; createdAt: string | null } | null;
  crafted: 'future' | 'past' | null;
  /** Not a cursor at all: BAD_USER_INPUT. */
  invalid: boolean;
}

interface Pooled {
  owner: TenantModel;
  id: string;
  seq: number;
  cursor: string | null;
  createdAt: string | null;
}

/** Every object of `kind` the API has shown, by owner: the caller's own, or every other tenant's. */
export function pool(tenants: readonly TenantModel[], caller: TenantModel, from: 'own' | 'foreign', kind: RefKind): Pooled[] {
  const owners = from === 'own' ? [caller] : tenants.filter((t) => t !== caller);
  return owners.flatMap((owner) => objectsOf(owner, kind).sort((a, b) => a.seq - b.seq));
}

function objectsOf(owner: TenantModel, kind: RefKind): Pooled[] {
  switch (kind) {
    case 'Tenant':
      return [{ owner, id: owner.globalId, seq: -1, cursor: null, createdAt: null }];
    case 'User':
      return owner.users.map((u) => ({ owner, id: u.id, seq: u.seq, cursor: u.cursor, createdAt: null }));
    case 'Conversation':
      return owner.conversations.map((c) => ({ owner, id: c.id, seq: c.seq, cursor: c.cursor, createdAt: c.createdAt }));
    case 'Message':
      return owner.conversations.flatMap((c) => c.messages.map((m) => ({ owner, id: m.id, seq: m.seq, cursor: m.cursor, createdAt: m.createdAt })));
    case 'AuditEvent':
      return owner.auditEvents.map((e) => ({ owner, id: e.id, seq: e.seq, cursor: e.cursor, createdAt: e.occurredAt }));
  }
}

const MISSING_UUID_PREFIX = '00000000-0000-4000-8000-';

/** A well-formed id of `kind` that no tenant has. */
export function missingId(kind: NodeKind, pick: number): string {
  const localId = kind === 'Tenant' ? `9000000000000000${String(pick % 1000).padStart(3, '0')}` : missingUuid(pick);
  return encodeGlobalId(kind, localId);
}

function missingUuid(pick: number): string {
  return `${MISSING_UUID_PREFIX}${String(pick).padStart(12, '0')}`;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const SOME_UUID = '6f1c1a52-9c3e-4c55-8d5e-3f8a1b2c4d5e';

/** Strings that are not ids of this API: each must be answered with BAD_USER_INPUT. */
const GARBAGE_IDS = [
  '',
  'not-an-id',
  b64('Conversation:not-a-uuid'),
  b64(`Robot:${SOME_UUID}`),
  "' OR 1=1 --",
  'x'.repeat(300),
  Buffer.from(`Conversation:${SOME_UUID}`).toString('base64'),
  b64('Tenant:-1'),
  b64(`User:${SOME_UUID.toUpperCase()}`),
];

export function resolveId(ref: IdRef, tenants: readonly TenantModel[], caller: TenantModel): ResolvedId {
  if (ref.from === 'garbage') return { value: GARBAGE_IDS[ref.variant % GARBAGE_IDS.length]!, owner: null, kind: null };
  if (ref.from === 'missing') return { value: missingId(ref.kind, ref.pick), owner: null, kind: ref.kind };
  const candidates = pool(tenants, caller, ref.from, ref.kind);
  const chosen = candidates[ref.pick % Math.max(candidates.length, 1)];
  if (chosen) return { value: chosen.id, owner: chosen.owner, kind: ref.kind };
  if (ref.kind === 'AuditEvent') return { value: b64(`AuditEvent:${missingUuid(ref.pick)}`), owner: null, kind: 'AuditEvent' };
  return { value: missingId(ref.kind, ref.pick), owner: null, kind: ref.kind };
}

const GARBAGE_CURSORS = [
  'abc',
  b64('[1,2]'),
  b64('["2020-01-01 00:00:00+00","not-a-uuid"]'),
  b64(`Conversation:${SOME_UUID}`),
  "' OR 1=1 --",
  'x'.repeat(201),
  b64(`["2023-02-30 25:61:00+00","${SOME_UUID}"]`),
  b64(`["0000-01-01 00:00:00+99","${SOME_UUID}"]`),
];

const CRAFTED = {
  future: b64('["9999-12-31 23:59:59.999999+00","ffffffff-ffff-4fff-bfff-ffffffffffff"]'),
  past: b64('["1970-01-01 00:00:00+00","00000000-0000-4000-8000-000000000000"]'),
};

export function resolveCursor(ref: CursorRef, tenants: readonly TenantModel[], caller: TenantModel): ResolvedCursor {
  const none = { value: null, origin: null, crafted: null, invalid: false };
  if (ref === null) return none;
  if (ref.from === 'garbage') {
    return { value: GARBAGE_CURSORS[ref.variant % GARBAGE_CURSORS.length]!, origin: null, crafted: null, invalid: true };
  }
  if (ref.from === 'crafted') return { value: CRAFTED[ref.time], origin: null, crafted: ref.time, invalid: false };
  const candidates = pool(tenants, caller, ref.from, ref.kind).filter((c) => c.cursor !== null);
  const chosen = candidates[ref.pick % Math.max(candidates.length, 1)];
  if (!chosen) return none;
  return {
    value: chosen.cursor,
    origin: { owner: chosen.owner, kind: ref.kind, entityId: chosen.id, createdAt: chosen.createdAt },
    crafted: null,
    invalid: false,
  };
}

export interface ResolvedText {
  value: string;
  /** What the server stores (trimmed), or null when it must refuse the text with BAD_USER_INPUT. */
  stored: string | null;
}

const PADDING: [string, string][] = [
  ['', ''],
  ['  ', '  '],
  ['\t', '\n'],
  ['\u00a0', '\u3000'],
];

/** A text for a field of at most `maxLength` characters, carrying the tenant's marker. */
export function resolveText(spec: TextSpec, marker: string, maxLength: number): ResolvedText {
  switch (spec.kind) {
    case 'words': {
      const stored = [marker, ...spec.words].join(' ');
      const [left, right] = PADDING[spec.pad % PADDING.length]!;
      return { value: `${left}${stored}${right}`, stored };
    }
    case 'boundary': {
      // 😀 is one character but two UTF-16 units: a limit counted in UTF-16 units would refuse the valid one.
      const value = `${marker} ${'😀'.repeat(maxLength - codePoints(marker) - 1 + (spec.over ? 1 : 0))}`;
      return { value, stored: spec.over ? null : value };
    }
    case 'invalid':
      return { value: ['', '   ', `${marker} a\u0000b`, `${marker} \ud800x`][spec.variant % 4]!, stored: null };
  }
}

export interface ResolvedEmail {
  value: string;
  /** The address the server stores, or null when it is not an email address (BAD_USER_INPUT). */
  stored: string | null;
}

export function resolveEmail(spec: EmailSpec, tenant: TenantModel): ResolvedEmail {
  const upper = (text: string, yes: boolean) => (yes ? text.toUpperCase() : text);
  switch (spec.kind) {
    case 'own': {
      const stored = upper(`${tenant.marker}.u${spec.n}@fuzz.test`, spec.upper);
      return { value: spec.pad ? ` ${stored}\t` : stored, stored };
    }
    case 'shared': {
      // No marker: the same address may belong to several tenants, and must not collide across them.
      const stored = upper(`shared${spec.n}@fuzz.test`, spec.upper);
      return { value: stored, stored };
    }
    case 'existing': {
      const user = [...tenant.users].sort((a, b) => a.seq - b.seq)[spec.pick % tenant.users.length]!;
      const stored = upper(user.email, spec.upper);
      return { value: stored, stored };
    }
    case 'invalid': {
      const value = ['not-an-email', `${tenant.marker}@nodot`, `${tenant.marker} x@fuzz.test`, '   '][spec.variant % 4]!;
      return { value, stored: null };
    }
  }
}

export interface ResolvedTitleQuery {
  value: string;
  /** The filter the server applies (trimmed), null for none; `invalid` means BAD_USER_INPUT. */
  filter: string | null;
  invalid: boolean;
}

export function resolveTitleQuery(query: TitleQuery, tenants: readonly TenantModel[], caller: TenantModel): ResolvedTitleQuery {
  const flip = (text: string, yes: boolean) =>
    yes ? text.replace(/[A-Za-z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())) : text;
  let value: string;
  switch (query.kind) {
    case 'substring': {
      const own = [...caller.conversations].sort((a, b) => a.seq - b.seq);
      const title = own.length > 0 ? own[query.pick % own.length]!.title : caller.marker;
      const characters = [...title];
      const start = query.start % characters.length;
      value = flip(characters.slice(start, start + query.length).join(''), query.flip);
      break;
    }
    case 'word':
      value = flip(WORDS[query.word % WORDS.length]!, query.flip);
      break;
    case 'foreignMarker': {
      const others = tenants.filter((t) => t !== caller);
      value = others[query.pick % others.length]!.marker;
      break;
    }
    case 'ownMarker':
      value = caller.marker;
      break;
    case 'special':
      value = ['', '   ', 'a'.repeat(201), '%', '_', '\\'][query.variant % 6]!;
      break;
  }
  if (value === '') return { value, filter: null, invalid: false };
  const trimmed = value.trim();
  return { value, filter: trimmed === '' ? null : trimmed, invalid: trimmed === '' || codePoints(trimmed) > 200 };
}
