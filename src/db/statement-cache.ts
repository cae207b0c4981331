import { isDeepStrictEqual } from 'node:util';
import type { CompiledQuery, Compilable, Kysely } from 'kysely';
import type { Database } from './kysely.js';

/**
 * Builds a hot statement's SQL once per shape instead of once per execution.
 *
 * Kysely builds an immutable operation tree for every statement and compiles it to SQL every time, although the
 * SQL of one shape never changes — only its parameters do. For the API's read path that was ~7 % of its CPU per
 * request (README › Performance). A {@link CachedStatement} wraps a statement's builder (the `…Query(tx, …args)`
 * function of a module's queries.ts, still the one source of the SQL) and, per shape of its arguments, builds it
 * once with stand-ins ({@link Slot}) for the values; each execution then only fills the parameter list.
 *
 * The shape of the arguments is what the builder may branch on: which values are null or undefined, and the
 * properties named in `shape` (e.g. a window's `direction`), which must take few values (each is part of the
 * cache key). Every other value (strings, numbers, booleans, arrays) must pass into the statement as a parameter
 * unchanged: a builder must not read it, compute with it or branch on it. A property whose value the builder
 * does transform (a search pattern built from a filter) is named in `uncached`: a call where it is set is built
 * as before. The rule is checked, not trusted: a shape's first execution builds the statement with the real
 * values too and uses the cache for that shape only if both give the same SQL and the same parameters; the
 * test suite compares them at every execution ({@link verifyEveryCachedExecution}) and over generated arguments.
 *
 * SECURITY: the cache holds SQL text with placeholders and no values: nothing of one request reaches another.
 * A transaction with Kysely plugins (the bench's per-tenant filter, AppDatabase.transactionPlugins) is always built
 * as before, so the plugins see and rewrite every statement.
 */
export class CachedStatement<Db extends Kysely<Database>, Args extends readonly unknown[], Row> {
  readonly #shapes = new Map<string, Template<Row> | typeof NOT_CACHED>();
  readonly #shapeProperties: ReadonlySet<string>;
  readonly #uncachedProperties: ReadonlySet<string>;

  constructor(
    /** The statement's builder, e.g. `findConversationsByIdsQuery`. */
    private readonly build: (db: Db, ...args: Args) => Compilable<Row>,
    options: { shape?: readonly string[]; uncached?: readonly string[] } = {},
  ) {
    this.#shapeProperties = new Set(options.shape);
    this.#uncachedProperties = new Set(options.uncached);
  }

  /** Runs the statement on `db` (a tenant transaction) with `args`, as `build(db, ...args).execute()` would. */
  async execute(db: Db, ...args: Args): Promise<Row[]> {
    return (await db.executeQuery(this.compile(db, ...args))).rows;
  }

  /** The statement `build(db, ...args)` compiles to, from the cache when its shape was built before. */
  compile(db: Db, ...args: Args): CompiledQuery<Row> {
    // Plugins rewrite the operation tree per transaction: they must see every statement built.
    if (db.getExecutor().plugins.length > 0) return this.build(db, ...args).compile();
    const key = this.#shapeKey(args);
    if (key === undefined) return this.build(db, ...args).compile();
    const template = this.#shapes.get(key);
    if (template === NOT_CACHED) return this.build(db, ...args).compile();
    if (template) return verifyEveryExecution ? verified(template, this.build(db, ...args).compile(), args) : withParameters(template, args);
    return this.#learn(db, key, args);
  }

  /** How many shapes are cached (for tests). */
  get cachedShapes(): number {
    return [...this.#shapes.values()].filter((template) => template !== NOT_CACHED).length;
  }

  /** Builds a new shape with stand-ins and with the real values; caches it when both agree. */
  #learn(db: Db, key: string, args: Args): CompiledQuery<Row> {
    const real = this.build(db, ...args).compile();
    // Bounded by construction (null-ness and a few shape values), and guarded anyway.
    if (this.#shapes.size >= MAX_SHAPES_PER_STATEMENT) return real;
    const slotted = this.build(db, ...(this.#withSlots(args, []) as unknown as Args)).compile();
    const template: Template<Row> = {
      compiled: slotted,
      slots: slotted.parameters.map((parameter) => (parameter instanceof Slot ? parameter : undefined)),
    };
    this.#shapes.set(key, agreesWith(template, real, args) ? template : NOT_CACHED);
    return real;
  }

  /**
   * The cache key of the arguments: their structure, with null-ness and shape properties spelled out and every
   * other value as `$`. Undefined when an `uncached` property is set.
   */
  #shapeKey(value: unknown, property?: string): string | undefined {
    if (value === null) return 'null';
    if (value === undefined) return 'undef';
    if (property !== undefined && this.#shapeProperties.has(property)) return JSON.stringify(value);
    if (property !== undefined && this.#uncachedProperties.has(property)) return undefined;
    if (Array.isArray(value) && property === undefined) {
      // The top-level argument list: each argument in turn.
      let key = '';
      for (const argument of value) {
        const part = this.#shapeKey(argument, '');
        if (part === undefined) return undefined;
        key += `${part},`;
      }
      return key;
    }
    if (!isPlainObject(value)) return '$';
    let key = '{';
    for (const name in value) {
      const part = this.#shapeKey((value as Record<string, unknown>)[name], name);
      if (part === undefined) return undefined;
      key += `${name}:${part},`;
    }
    return `${key}}`;
  }

  /** The arguments with every value a parameter (see {@link #shapeKey}) replaced by a Slot naming its path. */
  #withSlots(value: unknown, path: readonly (string | number)[], property?: string): unknown {
    if (value === null || value === undefined) return value;
    if (property !== undefined && this.#shapeProperties.has(property)) return value;
    if (path.length === 0) return (value as readonly unknown[]).map((argument, index) => this.#withSlots(argument, [index], ''));
    if (!isPlainObject(value)) return new Slot(path);
    const slotted: Record<string, unknown> = {};
    for (const name in value) slotted[name] = this.#withSlots((value as Record<string, unknown>)[name], [...path, name], name);
    return slotted;
  }
}

/** How many shapes one statement may cache; beyond, new shapes are built per execution (never reached by ours). */
const MAX_SHAPES_PER_STATEMENT = 64;

const NOT_CACHED = Symbol('not cached');

interface Template<Row> {
  readonly compiled: CompiledQuery<Row>;
  /** Per parameter, the Slot it is filled from, or undefined for a constant the builder put there itself. */
  readonly slots: readonly (Slot | undefined)[];
}

/** A stand-in for the argument at `path` (argument index, then property names) while a shape is built. */
class Slot {
  constructor(readonly path: readonly (string | number)[]) {}

  valueIn(args: readonly unknown[]): unknown {
    let value: unknown = args;
    for (const step of this.path) value = (value as Record<string | number, unknown>)[step];
    return value;
  }
}

let verifyEveryExecution = false;

/**
 * From now on every execution from the cache also builds the statement and throws when the two differ: for test
 * suites, so that every statement the tests run checks the rule of {@link CachedStatement}. Never in production
 * (it builds every statement twice).
 */
export function verifyEveryCachedExecution(): void {
  verifyEveryExecution = true;
}

function agreesWith<Row>(template: Template<Row>, real: CompiledQuery<Row>, args: readonly unknown[]): boolean {
  return template.compiled.sql === real.sql && isDeepStrictEqual(withParameters(template, args).parameters, real.parameters);
}

function verified<Row>(template: Template<Row>, real: CompiledQuery<Row>, args: readonly unknown[]): CompiledQuery<Row> {
  if (!agreesWith(template, real, args)) {
    throw new Error(
      `A cached statement differs from its builder's for these arguments (${JSON.stringify(args)}): the builder reads a value ` +
        `it must pass through as a parameter; name the property in its CachedStatement's \`shape\` or \`uncached\`.\n` +
        `cached: ${template.compiled.sql}\nbuilt:  ${real.sql}`,
    );
  }
  return withParameters(template, args);
}

function withParameters<Row>(template: Template<Row>, args: readonly unknown[]): CompiledQuery<Row> {
  const constants = template.compiled.parameters;
  const parameters = template.slots.map((slot, index) => (slot ? slot.valueIn(args) : constants[index]));
  return { ...template.compiled, parameters };
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
