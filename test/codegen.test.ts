import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { DATABASE_TYPES_FILE, findStaleFiles, generateDatabaseTypes, generateGraphqlFiles, REPOSITORY_ROOT } from '../scripts/generated-files.js';
import { generateDerivedFiles } from '../scripts/derived-files.js';

/**
 * The committed files under src/__generated__/ are what `npm run codegen` would write today: a schema, operation
 * or migration change without a regeneration fails here (and in `npm run codegen:check`).
 */
describe('src/__generated__ (npm run codegen)', () => {
  it('holds exactly what graphql-codegen generates from schema/ and the SDK operations', async () => {
    const files = await generateGraphqlFiles();
    expect(files.map((file) => file.path).sort()).toContain('src/__generated__/resolvers.ts');
    // database.ts is the other generator's file (next test); everything else there must come from graphql-codegen.
    const stale = (await findStaleFiles(files)).filter((file) => file.path !== DATABASE_TYPES_FILE);
    expect(stale.map((file) => `${file.path} (${file.reason}) — run \`npm run codegen\``)).toEqual([]);
  });

  it('holds the row types kysely-codegen introspects from the migrated test database', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-codegen-'));
    try {
      const outFile = path.join(dir, 'database.ts');
      await generateDatabaseTypes(inject('ownerUrl'), outFile);
      const committed = await readFile(path.join(REPOSITORY_ROOT, DATABASE_TYPES_FILE), 'utf8');
      expect(await readFile(outFile, 'utf8'), `${DATABASE_TYPES_FILE} is stale — run \`npm run codegen\``).toBe(committed);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('holds schema.graphql, src/sdk/error-codes.ts and the README error table as derived from their sources', async () => {
    const files = await generateDerivedFiles(REPOSITORY_ROOT);
    expect(files.map((file) => file.path)).toEqual(['schema.graphql', 'src/sdk/error-codes.ts', 'README.md']);
    const stale = (await findStaleFiles(files)).filter((file) => files.some((derived) => derived.path === file.path));
    expect(stale.map((file) => `${file.path} (${file.reason}) — run \`npm run codegen\``)).toEqual([]);
  });
});
