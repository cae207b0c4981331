import { jwtKeySource, type Env } from '../config/env.js';
import { loadDevSecrets } from '../config/dev-secrets.js';
import { prepareDatabase, type PreparedDatabase } from '../db/prepare-database.js';

/**
 * One command: `parse` checks the arguments (throwing a UsageError or parseArgs' own errors) before the
 * environment is read or the database touched; `run` does the work.
 */
export interface CliCommand<Options> {
  parse(args: string[]): Options;
  run(options: Options, env: Env, io: CliIo): Promise<void>;
}

/** How a command talks to the outside: `out` is its result on stdout, `log` is everything else (stderr). */
export interface CliIo {
  out(line: string): void;
  log(line: string): void;
}

/**
 * Runs `work` against the database `npm start` uses (DATABASE_URL / DATABASE_URL_APP, or the embedded one under
 * DATA_DIR), migrated first. An embedded PostgreSQL that a running server started is reused and left running;
 * one this call started is stopped afterwards, also when `work` throws.
 */
export async function withDatabase<T>(env: Env, io: CliIo, work: (database: PreparedDatabase) => Promise<T>): Promise<T> {
  const verbose = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
  const database = await prepareDatabase(env, { migrate: true, ...(verbose ? { log: io.log } : {}) });
  try {
    return await work(database);
  } finally {
    await database.stop();
  }
}

/**
 * The HS256 secret the server verifies tokens with: JWT_SECRET, else (unless JWT_JWKS_URL delegates to an
 * identity provider) the development secret kept in DATA_DIR/secrets.json — the same choice src/main.ts makes.
 * Null when tokens come from an identity provider and this CLI cannot sign any.
 */
export async function serverJwtSecret(env: Env): Promise<string | null> {
  const source = jwtKeySource(env);
  if (source === 'secret') return env.JWT_SECRET!;
  if (source !== 'dev-secret') return null;
  return (await loadDevSecrets(env.DATA_DIR)).jwtSecret;
}

/** The claims options the server checks (src/main.ts passes the same to the verifier). */
export function tokenClaims(env: Env) {
  return { tenantClaim: env.JWT_TENANT_CLAIM, subjectClaim: env.JWT_SUBJECT_CLAIM, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE };
}
