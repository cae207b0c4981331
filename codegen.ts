import type { CodegenConfig } from '@graphql-codegen/cli';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * `npm run codegen` regenerates everything under src/__generated__/ (database row types come from
 * kysely-codegen, see scripts/codegen.ts). CI fails when the committed files are stale.
 */
const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  documents: 'src/sdk/operations/*.graphql',
  emitLegacyCommonJSImports: false,
  generates: {
    // Resolver signatures. Mappers make parents the database rows the resolvers receive, so a resolver that
    // forgets a field or reads a column that does not exist fails to compile.
    'src/__generated__/resolvers.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        useTypeImports: true,
        contextType: '../graphql/request-context.js#RequestContext',
        mappers: resolverParentMappers(),
        scalars: { DateTime: 'string', ID: 'string' },
        enumsAsTypes: true,
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
        resolversNonOptionalTypename: false,
        allowParentTypeOverride: false,
        maybeValue: 'T | null',
        inputMaybeValue: 'T | null | undefined',
      },
    },
    // The typed SDK: typed document nodes for the operations in src/sdk/operations/. `persistedDocuments` embeds
    // each operation's SHA-256 in its document (`__meta__.hash`, what the SDK sends with `trustedDocuments: true`)
    // and writes persisted-documents.json, the manifest GRAPHQL_TRUSTED_DOCUMENTS points the server at.
    'src/__generated__/sdk/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false, persistedDocuments: { mode: 'embedHashInDocument', hashAlgorithm: 'sha256' } },
      config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string' } },
    },
  },
};

/**
 * The codegen mappers, derived rather than listed: every `export type <Type>Row` (or `<Type>Parent`, for a type
 * with no table behind it) in a module folder src/modules/<domain>/ is the parent of the SDL's type <Type>, and its
 * `<Type>Connection` and `<Type>Edge` get the generic connection shapes around it. A new module's row type is
 * picked up by `npm run codegen` with no line here.
 */
function resolverParentMappers(): Record<string, string> {
  const mappers: Record<string, string> = {};
  const sdl = readdirSync('schema')
    .filter((file) => file.endsWith('.graphql'))
    .map((file) => readFileSync(`schema/${file}`, 'utf8'))
    .join('\n');
  const declares = (type: string) => new RegExp(`^(?:extend )?type ${type}\\b`, 'm').test(sdl);
  for (const domain of readdirSync('src/modules', { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .sort((a, b) => a.name.localeCompare(b.name))) {
    const folder = `src/modules/${domain.name}`;
    for (const file of readdirSync(folder)
      .filter((name) => name.endsWith('.ts'))
      .sort()) {
      const source = readFileSync(`${folder}/${file}`, 'utf8');
      for (const [, type, suffix] of source.matchAll(/^export (?:type|interface) (\w+?)(Row|Parent)\b/gm)) {
        // Rows of tables no GraphQL type exposes (a join table's) need no mapper.
        if (!declares(type!)) continue;
        const parent = `${type}${suffix}`;
        mappers[type!] = `../modules/${domain.name}/${file.replace(/\.ts$/, '.js')}#${parent}`;
        if (declares(`${type}Connection`)) mappers[`${type}Connection`] = `../graphql/connection.js#Connection<${parent}>`;
        if (declares(`${type}Edge`)) mappers[`${type}Edge`] = `../graphql/connection.js#Edge<${parent}>`;
      }
    }
  }
  return mappers;
}

export default config;
