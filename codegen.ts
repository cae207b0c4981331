import type { CodegenConfig } from '@graphql-codegen/cli';

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
        mappers: {
          Tenant: '../modules/directory/rows.js#TenantRow',
          User: '../modules/directory/rows.js#UserRow',
          Viewer: '../modules/directory/rows.js#ViewerParent',
          Conversation: '../modules/conversations/rows.js#ConversationRow',
          ConversationConnection: '../graphql/connection.js#Connection<ConversationRow>',
          ConversationEdge: '../graphql/connection.js#Edge<ConversationRow>',
          Message: '../modules/messages/rows.js#MessageRow',
          MessageConnection: '../graphql/connection.js#Connection<MessageRow>',
          MessageEdge: '../graphql/connection.js#Edge<MessageRow>',
          UserConnection: '../graphql/connection.js#Connection<UserRow>',
          UserEdge: '../graphql/connection.js#Edge<UserRow>',
          AuditEvent: '../modules/audit/rows.js#AuditEventRow',
          AuditEventConnection: '../graphql/connection.js#Connection<AuditEventRow>',
          AuditEventEdge: '../graphql/connection.js#Edge<AuditEventRow>',
          MessagePostedEvent: '../modules/realtime/rows.js#MessagePostedEventParent',
          ConversationChangedEvent: '../modules/realtime/rows.js#ConversationChangedEventParent',
        },
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

export default config;
