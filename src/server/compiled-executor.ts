import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { execute, getVariableValues, GraphQLError, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import { expandedFieldCount } from '../graphql/expanded-field-count.js';
import type { ExecutorName } from '../observability/metrics.js';
import type { RequestContext } from '../graphql/request-context.js';
import { CompileBudget } from './compile-budget.js';

type Gateway = ApolloServerOptionsWithGateway<RequestContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;
type Logger = Parameters<GatewayExecutor>[0]['logger'];

export interface CompiledExecutorLimits {
  /** Compiled operations kept, least recently used first out. */
  maxEntries: number;
  /** Upper bound of the memory they take, as estimated by `compiledBytes`. */
  maxBytes: number;
  /** Larger operations (expanded-field-count.ts) are executed by graphql-js, never compiled. */
  maxFields: number;
  /** Time the process may spend compiling, on average and at once (compile-budget.ts). */
  compileMsPerSecond: number;
  compileBurstMs: number;
}

/**
 * Measured on this schema (Node 20): compiling takes ~0.04 ms and keeps ~0.9 KB per expanded field plus ~25 KB
 * per operation (the SDK's Dashboard, 18 fields: ~1 ms, 39 KB); 1,275 fields took 50 ms and 600 fields 12 ms.
 * 500 fields is 28 times the Dashboard.
 */
export const DEFAULT_COMPILED_EXECUTOR_LIMITS: CompiledExecutorLimits = {
  maxEntries: 1000,
  maxBytes: 32 * 1024 * 1024,
  maxFields: 500,
  compileMsPerSecond: 50,
  compileBurstMs: 250,
};

/** Told of every compilation and execution (metrics). */
export interface ExecutionObserver {
  compiled(): void;
  executed(executor: ExecutorName): void;
}

export interface CompiledExecutorOptions {
  limits?: CompiledExecutorLimits;
  observer?: ExecutionObserver;
  /** The clock of the compile budget, in milliseconds (tests). */
  now?: () => number;
}

/** What a compiled operation keeps in memory, generously (see the measurement above). */
const compiledBytes = (fields: number) => 32 * 1024 + fields * 1024;

/**
 * Executes operations with graphql-jit instead of graphql-js, through Apollo Server's gateway interface (its one
 * hook for a custom executor: parsing, validation, the document cache, every plugin hook and error formatting
 * stay Apollo's). graphql-jit compiles an operation once into a function that resolves its fields without
 * graphql-js' generic per-field work; on the benchmark's Q1 and Q2 that is ~10–17 % less server CPU per request
 * (README › Performance).
 *
 * Compiled operations are kept in one LRU keyed by Apollo's query hash (SHA-256 of the text) and the operation's
 * name, bounded in entries and in estimated bytes. What is cached is code derived from the document and the
 * schema, never data: resolvers get each request's own context (its transaction, its DataLoaders). Only
 * operations that passed validation and our request hooks get here; without a token that is introspection only
 * (authentication-plugin.ts).
 *
 * Compiling costs far more than the rest of a request (a 2 KB document of 1,275 fields: 50 ms to compile, 1.3 ms
 * to parse and validate), so a client sending ever new documents must not be able to make the server compile
 * all the time: operations over `maxFields`, and any operation while the compile budget is spent, run on
 * graphql-js (the same answers, as before this executor), and are compiled on a later request when there is
 * budget again.
 *
 * Variables are coerced with graphql-js first, so a bad variable fails exactly as graphql-js reports it (Apollo
 * recognises those errors as BAD_USER_INPUT by their AST node, which graphql-jit's own errors lack); graphql-jit
 * then coerces the accepted values once more, which costs microseconds.
 */
export class CompiledExecutor {
  readonly #cache: LRUCache<string, CompiledQuery>;
  readonly #budget: CompileBudget;
  readonly #maxFields: number;
  readonly #observer: ExecutionObserver | undefined;
  #compilations = 0;
  #interpreted = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    { limits = DEFAULT_COMPILED_EXECUTOR_LIMITS, observer, now }: CompiledExecutorOptions = {},
  ) {
    this.#maxFields = limits.maxFields;
    this.#observer = observer;
    this.#budget = new CompileBudget(limits.compileMsPerSecond, limits.compileBurstMs, now);
    this.#cache = new LRUCache<string, CompiledQuery>({ max: limits.maxEntries, maxSize: limits.maxBytes });
  }

  /** Apollo's gateway for this executor: a static schema, loaded once. */
  gateway(): Gateway {
    let listener: Parameters<Gateway['onSchemaLoadOrUpdate']>[0] | undefined;
    return {
      onSchemaLoadOrUpdate: (callback) => {
        listener = callback;
        return () => (listener = undefined);
      },
      load: async () => {
        // Only Apollo's schema reporting reads the supergraph SDL; this is not a supergraph.
        listener?.({ apiSchema: this.schema, coreSupergraphSdl: '' });
        return { executor: this.execute };
      },
      stop: async () => {},
    };
  }

  readonly execute: GatewayExecutor = async ({ document, operation, operationName, queryHash, request, context, logger }) => {
    const variables = request.variables ?? {};
    // As Apollo calls graphql-js: with the request's operation name (`operationName` is the resolved operation's).
    const interpret = () =>
      execute({ schema: this.schema, document, operationName: request.operationName, contextValue: context, variableValues: variables });
    // No operation of that name (typed as always there, it is not): graphql-js' error, which Apollo answers with 400.
    if (!(operation as OperationDefinitionNode | undefined)) return interpret();
    const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], variables, { maxErrors: 50 });
    if (coerced.errors) return { errors: coerced.errors };
    const key = `${queryHash}\u0000${operationName ?? ''}`;
    const compiled = this.#cache.get(key) ?? this.#compile(key, document, operation, operationName, logger);
    if (!compiled) {
      this.#interpreted++;
      this.#observer?.executed('graphql-js');
      return interpret();
    }
    this.#observer?.executed('compiled');
    const result = await compiled.query(undefined, context as RequestContext, variables);
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  };

  /** The operation compiled and cached, or undefined when graphql-js is to execute it this time. */
  #compile(
    key: string,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    operationName: string | null,
    logger: Logger,
  ): CompiledQuery | undefined {
    const fields = expandedFieldCount(document, operation);
    if (fields > this.#maxFields) return undefined;
    let result: ReturnType<typeof compileQuery<Record<string, unknown>, Record<string, unknown>>> | undefined;
    try {
      result = this.#budget.attempt(() =>
        compileQuery<Record<string, unknown>, Record<string, unknown>>(this.schema, document, operationName ?? undefined),
      );
    } catch (error) {
      // A document graphql-js executes and graphql-jit cannot compile is graphql-jit's bug: answer it anyway.
      logger.warn(`graphql-jit could not compile operation ${operationName ?? '(anonymous)'}, executing it with graphql-js: ${String(error)}`);
      return undefined;
    }
    // Not compiled: no budget now, or (unreachable after validation and Apollo's operation lookup) an unknown name.
    if (!result || !isCompiledQuery(result)) return undefined;
    this.#compilations++;
    this.#observer?.compiled();
    this.#cache.set(key, result, { size: compiledBytes(fields) });
    return result;
  }

  /** Operations compiled so far (a cache miss each). */
  get compilations(): number {
    return this.#compilations;
  }

  /** Executions left to graphql-js (too large, or no compile budget at the time). */
  get interpreted(): number {
    return this.#interpreted;
  }

  /** Compiled operations currently kept. */
  get entries(): number {
    return this.#cache.size;
  }

  /** Their estimated bytes, as counted against `maxBytes`. */
  get bytes(): number {
    return this.#cache.calculatedSize;
  }
}

/**
 * graphql-jit reports errors with its own GraphQLError, a subclass whose `message` is read-only: graphql-armor's
 * field-suggestion mask assigns to `message` in `didEncounterErrors`, and the TypeError it threw replaced the
 * response's errors (a masked resolver error lost its path). Rebuilt as graphql-js builds a resolver's error
 * (locatedError): same message, path and locations, the original error (whose extensions it carries) as
 * `originalError`, so the error policy (plugins/error-plugin.ts) judges it by its cause as before.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  if (error.constructor === GraphQLError) return error;
  const rebuilt = new GraphQLError(error.message, {
    ...(error.path ? { path: error.path } : {}),
    ...(error.originalError ? { originalError: error.originalError } : {}),
    ...(error.extensions ? { extensions: error.extensions } : {}),
  });
  // graphql-js derives locations from AST nodes, which graphql-jit keeps only as locations.
  if (error.locations) Object.assign(rebuilt, { locations: error.locations });
  return rebuilt;
}
