import type { DocumentStore } from '@apollo/server';
import { buildASTSchema, concatAST, parse, specifiedRules, validate, type DocumentNode, type ValidationRule } from 'graphql';
import { sha256Hex, type TrustedDocuments } from './trusted-documents.js';

/**
 * Apollo's document store for a server with trusted documents: each trusted operation parsed and validated once
 * at boot (against the schema, with the same validation rules Apollo applies), so requests for them skip parse
 * and validation from the first one on and can never be evicted. Nothing else is stored: the only other texts
 * that reach Apollo's parser are introspection queries (when allowed), and a store that keeps nothing cannot be
 * flooded. Throws at boot naming every operation of the manifest that does not validate (a stale manifest).
 */
export function trustedDocumentStore(trusted: TrustedDocuments, typeDefs: string[], validationRules: ValidationRule[]): DocumentStore {
  const schema = buildASTSchema(concatAST(typeDefs.map((sdl) => parse(sdl))));
  const documents = new Map<string, DocumentNode>();
  const problems: string[] = [];
  for (const [id, text] of trusted.byId) {
    const document = parse(text);
    const errors = validate(schema, document, [...specifiedRules, ...validationRules]);
    if (errors.length) problems.push(`${id}: ${errors.map((error) => error.message).join(' ')}`);
    else documents.set(sha256Hex(text), document);
  }
  if (problems.length) {
    throw new Error(
      `${trusted.source}: operations that do not validate against this server's schema (regenerate the manifest with npm run codegen): ${problems.join('; ')}`,
    );
  }
  return {
    // Apollo prefixes keys of a store it is given with a hash of the schema and ":"; the query hash follows.
    async get(key) {
      return documents.get(key.slice(key.lastIndexOf(':') + 1));
    },
    async set() {},
    async delete() {
      return false;
    },
  };
}
