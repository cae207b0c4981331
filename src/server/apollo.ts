import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageProductionDefault } from '@apollo/server/plugin/landingPage/default';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { CompiledExecutor } from './compiled-executor.js';
import { sandboxLandingPageWithOfflinePointer } from './explorer/sandbox-landing-page.js';
import { loadTypeDefs } from '../graphql/schema-files.js';
import type { Metrics } from '../observability/metrics.js';
import { allResolvers, NODE_TYPES } from '../modules/index.js';
import { assertResolversComplete } from '../graphql/resolver-check.js';
import type { Logger } from './logger.js';
import { abuseLimits, type AbuseLimits } from './plugins/abuse-limits.js';
import { authenticationPlugin } from './plugins/authentication-plugin.js';
import { operationKindPlugin } from './plugins/operation-kind-plugin.js';
import { errorPlugin, loggingFormatError } from './plugins/error-plugin.js';
import { requestTransactionPlugin } from './plugins/request-transaction-plugin.js';
import { telemetryPlugin } from './plugins/telemetry-plugin.js';
import { trustedDocumentStore } from './trusted/trusted-document-store.js';
import type { TrustedDocuments } from './trusted/trusted-documents.js';
import type { RequestContext } from '../graphql/request-context.js';

export interface ApolloOptions {
  production: boolean;
  /** Where the offline explorer is served: the Sandbox landing page points there. null: no Sandbox either. */
  explorerPath?: string | null;
  introspection: boolean;
  limits: AbuseLimits;
  logger: Logger;
  metrics: Metrics;
  /** Mutations whose result is larger are rolled back and refused (see response-size-limit.ts). */
  maxResponseBytes?: number;
  /** Only these run (GRAPHQL_TRUSTED_DOCUMENTS): parsed and validated once at boot (trusted/trusted-document-store.ts). */
  trustedDocuments?: TrustedDocuments;
}

/** The schema is built once per process, never per request. */
export function createApollo(options: ApolloOptions): ApolloServer<RequestContext> {
  const { metrics } = options;
  const limits = abuseLimits(options.limits, options.production, (limit) => metrics.abuseLimitRejected(limit));
  const typeDefs = loadTypeDefs();
  const resolvers = allResolvers();
  // A field that needs a resolver and has none refuses the boot, naming Type.field, instead of failing at run time.
  assertResolversComplete({ typeDefs, resolvers, nodeTypes: Object.keys(NODE_TYPES) });
  const trusted = options.trustedDocuments;
  // The executable schema Apollo builds from typeDefs and resolvers, executed by graphql-jit through Apollo's
  // gateway interface (compiled-executor.ts; README › Performance has what it saves).
  const executor = new CompiledExecutor(makeExecutableSchema({ typeDefs, resolvers }), {
    observer: { compiled: () => metrics.operationCompiled(), executed: (name) => metrics.operationExecuted(name) },
  });
  return new ApolloServer<RequestContext>({
    gateway: executor.gateway(),
    // Trusted operations are parsed and validated once, at boot; without a manifest, Apollo's default LRU store.
    ...(trusted ? { documentStore: trustedDocumentStore(trusted, typeDefs, limits.validationRules) } : {}),
    introspection: options.introspection,
    // CSRF prevention stays on (Apollo's default): "simple" requests without a preflight are refused.
    csrfPrevention: true,
    // Batched requests would share one context, so one transaction, across operations.
    allowBatchedHttpRequests: false,
    // SECURITY: automatic persisted queries off. Apollo's APQ cache is one for all tenants and is read before
    // authentication, so a client without a token could tell registered hashes from unknown ones (401 versus
    // PERSISTED_QUERY_NOT_FOUND). Every persisted-query request now gets PERSISTED_QUERY_NOT_SUPPORTED (README).
    persistedQueries: false,
    includeStacktraceInErrorResponses: !options.production,
    formatError: loggingFormatError(options.logger),
    logger: options.logger,
    validationRules: limits.validationRules,
    parseOptions: limits.parseOptions,
    plugins: [
      // Cache-control hints are unused here, and the plugin instruments every field resolver to collect them.
      ApolloServerPluginCacheControlDisabled(),
      operationKindPlugin(),
      ...limits.plugins,
      authenticationPlugin(),
      telemetryPlugin(metrics),
      requestTransactionPlugin(options.logger, metrics, options.maxResponseBytes),
      errorPlugin(options.logger),
      options.explorerPath
        ? sandboxLandingPageWithOfflinePointer<RequestContext>(options.explorerPath)
        : ApolloServerPluginLandingPageProductionDefault({ footer: false }),
    ],
  });
}
