import { print } from 'graphql';
import { DashboardDocument } from '../../src/__generated__/sdk/graphql.js';
import { decodeGlobalId, encodeGlobalId } from '../../src/graphql/global-id.js';
import { sha256Hex } from '../../src/server/trusted/trusted-documents.js';
import type { BenchTenant } from './dataset.js';
import { POSTGRAPHILE_M1_DOCUMENT, POSTGRAPHILE_Q1_DOCUMENT, POSTGRAPHILE_Q2_DOCUMENT } from './postgraphile-documents.js';

export type Workload = 'Q1' | 'Q2' | 'M1' | 'MIX';
export type Operation = Exclude<Workload, 'MIX'>;
export const WORKLOADS: readonly Workload[] = ['Q1', 'Q2', 'M1', 'MIX'];

export const WORKLOAD_LABELS: Record<Workload, string> = {
  Q1: 'Q1 dashboard',
  Q2: 'Q2 conversation view',
  M1: 'M1 postMessage',
  MIX: 'MIX 45% Q1, 45% Q2, 10% M1',
};

/** Q1 is the shipped SDK's Dashboard operation, with 20 conversations and 5 messages each. */
export const Q1_DOCUMENT = print(DashboardDocument);
export const Q1_VARIABLES = { first: 20, messages: 5 };

export const Q2_DOCUMENT = `query ConversationView($id: ID!) {
  conversation(id: $id) {
    id
    title
    messageCount
    messages(first: 50) { nodes { id body createdAt author { id displayName } } }
  }
}`;

export const M1_DOCUMENT = `mutation Post($input: PostMessageInput!) {
  postMessage(input: $input) {
    message { id body createdAt author { id displayName } conversation { id messageCount } }
  }
}`;

/** A tenant ready to be requested: its token and its conversations as global ids. */
export interface TenantTarget extends BenchTenant {
  /** `Bearer <token>`, built once rather than per request. */
  authorization: string;
  conversationGlobalIds: string[];
}

export function toTarget(tenant: BenchTenant, token: string): TenantTarget {
  return {
    ...tenant,
    authorization: `Bearer ${token}`,
    conversationGlobalIds: tenant.conversationIds.map((id) => encodeGlobalId('Conversation', id)),
  };
}

/** The floor's routes, GraphQL with the document's text, GraphQL with only its id (trusted documents), or PostGraphile's documents. */
export type Target = 'graphql' | 'documentId' | 'floor' | 'postgraphile';

const documentIdOf = (text: string) => `sha256:${sha256Hex(text)}`;

/**
 * The manifest of the "API with trusted documents": the workloads' own documents, character for character the
 * texts the API is sent, so the two differ only in whether a request carries the text or its id.
 */
export function benchTrustedDocuments(): Record<string, string> {
  return Object.fromEntries([Q1_DOCUMENT, Q2_DOCUMENT, M1_DOCUMENT].map((text) => [documentIdOf(text), text]));
}
export type TenantPick = 'uniform' | 'weighted';

export interface HttpRequest {
  path: string;
  body: string;
  authorization: string;
}

const Q1_GRAPHQL_BODY = JSON.stringify({ query: Q1_DOCUMENT, variables: Q1_VARIABLES });
const Q1_DOCUMENT_ID_BODY = JSON.stringify({ documentId: documentIdOf(Q1_DOCUMENT), variables: Q1_VARIABLES });
const Q2_DOCUMENT_ID = documentIdOf(Q2_DOCUMENT);
const POSTGRAPHILE_Q1_BODY = JSON.stringify({ query: POSTGRAPHILE_Q1_DOCUMENT, variables: Q1_VARIABLES });
const M1_DOCUMENT_ID = documentIdOf(M1_DOCUMENT);

/** The request of one operation for one tenant, to the API (`graphql`) or to the floor's equivalent route. */
export function buildRequest(operation: Operation, target: Target, tenant: TenantTarget, conversationId: string, body: string): HttpRequest {
  const authorization = tenant.authorization;
  if (target === 'postgraphile') return postgraphileRequest(operation, tenant, conversationId, body);
  switch (operation) {
    case 'Q1':
      if (target === 'floor') return { path: '/q1', body: '{}', authorization };
      return { path: '/graphql', body: target === 'documentId' ? Q1_DOCUMENT_ID_BODY : Q1_GRAPHQL_BODY, authorization };
    case 'Q2': {
      const variables = { id: conversationId };
      if (target === 'floor') return { path: '/q2', body: JSON.stringify(variables), authorization };
      const named = target === 'documentId' ? { documentId: Q2_DOCUMENT_ID } : { query: Q2_DOCUMENT };
      return { path: '/graphql', body: JSON.stringify({ ...named, variables }), authorization };
    }
    case 'M1': {
      const input = { conversationId, body };
      if (target === 'floor') return { path: '/m1', body: JSON.stringify(input), authorization };
      const named = target === 'documentId' ? { documentId: M1_DOCUMENT_ID } : { query: M1_DOCUMENT };
      return { path: '/graphql', body: JSON.stringify({ ...named, variables: { input } }), authorization };
    }
  }
}

/** The same operation as PostGraphile's documents ask it: local ids, the author given explicitly (RLS still checks the tenant). */
function postgraphileRequest(operation: Operation, tenant: TenantTarget, conversationId: string, body: string): HttpRequest {
  const authorization = tenant.authorization;
  if (operation === 'Q1') return { path: '/graphql', body: POSTGRAPHILE_Q1_BODY, authorization };
  const id = decodeGlobalId(conversationId, 'Conversation').localId;
  if (operation === 'Q2') {
    return {
      path: '/graphql',
      body: JSON.stringify({ query: POSTGRAPHILE_Q2_DOCUMENT, variables: { tenantId: tenant.tenantId, id } }),
      authorization,
    };
  }
  const input = { message: { conversationId: id, authorId: tenant.userId, body } };
  return { path: '/graphql', body: JSON.stringify({ query: POSTGRAPHILE_M1_DOCUMENT, variables: { input } }), authorization };
}

/**
 * Generates the requests of a workload: each picks a tenant across the whole population, uniformly (every
 * tenant equally often, so the long tail of small tenants dominates as it does in a pool-model SaaS) or weighted
 * by the tenant's size (large tenants are busier), then the operation's arguments from that tenant's data.
 * Deterministic for a seed, so the servers of one round see the same sequence of requests.
 */
export function requestGenerator(
  workload: Workload,
  target: Target,
  tenants: readonly TenantTarget[],
  pick: TenantPick,
  seed: number,
): () => HttpRequest {
  const random = mulberry32(seed);
  const chooseTenant = pick === 'uniform' ? uniform(tenants, random) : weighted(tenants, random);
  let posted = 0;
  const make = (operation: Operation): HttpRequest => {
    const tenant = chooseTenant();
    const conversation = tenant.conversationGlobalIds[Math.floor(random() * tenant.conversationGlobalIds.length)]!;
    return buildRequest(operation, target, tenant, conversation, `bench message ${++posted} (seed ${seed})`);
  };
  if (workload !== 'MIX') return () => make(workload);
  return () => {
    const roll = random();
    return make(roll < 0.45 ? 'Q1' : roll < 0.9 ? 'Q2' : 'M1');
  };
}

function uniform(tenants: readonly TenantTarget[], random: () => number): () => TenantTarget {
  return () => tenants[Math.floor(random() * tenants.length)]!;
}

function weighted(tenants: readonly TenantTarget[], random: () => number): () => TenantTarget {
  const cumulative: number[] = [];
  let total = 0;
  for (const tenant of tenants) cumulative.push((total += tenant.messages));
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return tenants[lo]!;
  };
}

/** A small, fast, seedable PRNG (public domain), so runs are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
