import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A static allow-list of GraphQL operations: the manifest graphql-codegen's client preset writes with
 * `persistedDocuments` (src/__generated__/sdk/persisted-documents.json for the SDK's own operations), a JSON
 * object of `"sha256:<hex of the text>": "<operation text>"`. Unlike automatic persisted queries nothing is ever
 * registered at run time: the list is read once at boot and never grows.
 */
export interface TrustedDocuments {
  /** Where it was read from (for messages). */
  readonly source: string;
  /** Document id (`sha256:<hex>`) -> operation text. */
  readonly byId: ReadonlyMap<string, string>;
  /** The operation texts, for clients that send a trusted text byte for byte instead of its id. */
  readonly texts: ReadonlySet<string>;
}

const DOCUMENT_ID = /^sha256:[0-9a-f]{64}$/;
const BARE_SHA256 = /^[0-9a-f]{64}$/;

/** The sha256 hex of an operation text: also Apollo's query hash, the key of its document store. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * A client's id in the manifest's form: `sha256:<hex>` as the client preset embeds it (GraphQL-over-HTTP's
 * prefixed document identifier), or the bare hex Apollo's `extensions.persistedQuery.sha256Hash` carries.
 * Anything else is returned unchanged (and then found in no manifest).
 */
export function normaliseDocumentId(id: string): string {
  return BARE_SHA256.test(id) ? `sha256:${id}` : id;
}

/** Builds the allow-list from a parsed manifest; throws naming every entry that is wrong. */
export function trustedDocumentsFrom(manifest: unknown, source: string): TrustedDocuments {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw new Error(
      `${source}: expected a JSON object of "sha256:<hex>": "<operation>", received ${Array.isArray(manifest) ? 'an array' : typeof manifest}.`,
    );
  }
  const problems: string[] = [];
  const byId = new Map<string, string>();
  for (const [id, text] of Object.entries(manifest)) {
    if (!DOCUMENT_ID.test(id)) problems.push(`key ${JSON.stringify(id.slice(0, 80))} is not "sha256:" and 64 lowercase hex digits`);
    else if (typeof text !== 'string' || !text.trim()) problems.push(`${id}: expected the operation text, received ${typeof text}`);
    // SECURITY: an id must be the hash of its text, so an id can never stand for another operation than the
    // one it was computed from (and Apollo's document store, keyed by the text's hash, agrees with the list).
    else if (id !== `sha256:${sha256Hex(text)}`) problems.push(`${id} is not the SHA-256 of its text (edited by hand? regenerate it)`);
    else byId.set(id, text);
  }
  if (!problems.length && !byId.size) problems.push('it lists no operation');
  if (problems.length) throw new Error(`${source} is not a trusted-documents manifest: ${problems.join('; ')}.`);
  return { source, byId, texts: new Set(byId.values()) };
}

/** Reads the manifest at `path` (GRAPHQL_TRUSTED_DOCUMENTS); throws with the path and what is wrong. */
export function loadTrustedDocuments(path: string): TrustedDocuments {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS: cannot read ${path} (${(error as Error).message}); point it at a persisted-documents.json.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`GRAPHQL_TRUSTED_DOCUMENTS: ${path} is not JSON (${(error as Error).message}).`);
  }
  return trustedDocumentsFrom(parsed, `GRAPHQL_TRUSTED_DOCUMENTS ${path}`);
}
