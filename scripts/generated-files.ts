import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate as generateGraphqlCode } from '@graphql-codegen/cli';
import { Cli as KyselyCodegen } from 'kysely-codegen';
import codegenConfig from '../codegen.js';
import { connectClient } from '../src/db/guarded-client.js';

/**
 * What `npm run codegen` produces, computed in memory so the same code can write the files (codegen), compare
 * them (codegen --check) and assert them (test/codegen.test.ts). Paths are relative to the repository root.
 */
export interface GeneratedFile {
  path: string;
  content: string;
}

export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const GENERATED_DIR = 'src/__generated__';
export const DATABASE_TYPES_FILE = `${GENERATED_DIR}/database.ts`;

/**
 * kysely-codegen's options, as its CLI would take them:
 * `--dialect postgres --type-mapping '{"timestamptz":"string"}' --exclude-pattern 'kysely_*'`.
 * timestamptz stays a string because the pool returns it unparsed (src/db/pool.ts: microsecond-exact cursors);
 * `kysely_*` are the Migrator's bookkeeping tables.
 */
const KYSELY_CODEGEN_OPTIONS = {
  dialect: 'postgres',
  typeMapping: { timestamptz: 'string' },
  excludePattern: 'kysely_*',
} as const;

/**
 * Introspects a migrated database into Kysely row types (the content of src/__generated__/database.ts).
 * With `outFile`, kysely-codegen also writes it there, as its CLI's `--out-file` does.
 */
export async function generateDatabaseTypes(ownerUrl: string, outFile: string | null = null): Promise<string> {
  return new KyselyCodegen().generate({ ...KYSELY_CODEGEN_OPTIONS, url: ownerUrl, outFile, logLevel: 'error' });
}

/**
 * Call before dropping the database kysely-codegen introspected: resolves once its connection is gone on the
 * server too (at most ~2 s). Its pool's `end()` resolves before the socket closes, and a database dropped (or a
 * server stopped) in that window sends the idle client a 57P01 FATAL that pg-pool re-emits as an unhandled
 * 'error' event, which crashes the process.
 */
export async function waitForCodegenConnectionsToClose(ownerUrl: string): Promise<void> {
  const client = await connectClient({ connectionString: ownerUrl });
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      // kysely-codegen's connections are the ones that set no application_name.
      const { rows } = await client.query<{ open: number }>(
        `select count(*)::int as open from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid() and application_name = ''`,
      );
      if (!rows[0]?.open) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await client.end();
  }
}

/** Runs graphql-codegen with codegen.ts and returns its files instead of writing them. Needs no database. */
export async function generateGraphqlFiles(): Promise<GeneratedFile[]> {
  const outputs: { filename: string; content: string }[] = await generateGraphqlCode({ ...codegenConfig, cwd: REPOSITORY_ROOT, silent: true }, false);
  return outputs.map((output) => ({
    path: path.relative(REPOSITORY_ROOT, path.resolve(REPOSITORY_ROOT, output.filename)).split(path.sep).join('/'),
    content: output.content,
  }));
}

export type StaleFile = (GeneratedFile & { reason: 'missing' | 'outdated' }) | { path: string; reason: 'no longer generated' };

/**
 * Compares generated files with the repository: a file is stale when it is missing, differs by a single byte,
 * or sits under src/__generated__/ although no generator produces it any more.
 */
export async function findStaleFiles(files: GeneratedFile[]): Promise<StaleFile[]> {
  const stale: StaleFile[] = [];
  for (const file of files) {
    const absolute = path.join(REPOSITORY_ROOT, file.path);
    if (!existsSync(absolute)) stale.push({ ...file, reason: 'missing' });
    else if ((await readFile(absolute, 'utf8')) !== file.content) stale.push({ ...file, reason: 'outdated' });
  }
  const expected = new Set(files.map((file) => file.path));
  for (const existing of await listFiles(GENERATED_DIR)) {
    if (!expected.has(existing)) stale.push({ path: existing, reason: 'no longer generated' });
  }
  return stale;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(REPOSITORY_ROOT, dir), { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) => (entry.isDirectory() ? listFiles(`${dir}/${entry.name}`) : Promise.resolve([`${dir}/${entry.name}`]))),
  );
  return nested.flat();
}
