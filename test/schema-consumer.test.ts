import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, print, visit } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, REPOSITORY_ROOT } from './support/processes.js';

/**
 * schema.graphql as a team consumes it in its own repository (README, "Typed code with graphql-codegen"): a project
 * outside this repository holds a copy of the committed file and an operation document, runs graphql-codegen's
 * client preset over them and type-checks its code against the generated types. The operation document is the
 * README's own example block, so the README's example is checked against the schema too.
 *
 * The scratch project's node_modules is a link to this repository's: it stands in for the team's own install of
 * graphql-codegen, TypeScript and the typed-document-node types. Nothing of the repository is imported.
 */

const run = promisify(execFile);
const CODEGEN = path.join(REPOSITORY_ROOT, 'node_modules/@graphql-codegen/cli/esm/bin.js');
const TSC = path.join(REPOSITORY_ROOT, 'node_modules/typescript/bin/tsc');

/** The README's codegen configuration ("Typed code with graphql-codegen"), as JSON. */
const CODEGEN_CONFIG = {
  schema: 'schema.graphql',
  documents: 'src/**/*.graphql',
  emitLegacyCommonJSImports: false,
  generates: {
    'src/gql/': { preset: 'client', config: { scalars: { DateTime: 'string' } } },
  },
};

/** Code written against the generated types: it compiles only if they match the schema and the document. */
const CONSUMER = `
import { DashboardDocument, PostDocument, type DashboardQuery, type PostMutationVariables } from './gql/graphql.js';
import type { ResultOf, VariablesOf } from '@graphql-typed-document-node/core';

declare const data: DashboardQuery;
const first = data.conversations.nodes[0];
const title: string | undefined = first?.title;
const count: number | undefined = first?.messageCount;
const author: string | undefined = first?.lastMessage?.author.displayName;
const tenantName: string = data.viewer.tenant.name;
// @ts-expect-error the document selects no 'archived'.
void first?.archived;
const variables: PostMutationVariables = { conversationId: 'Q29udmVyc2F0aW9uOjE' };
// @ts-expect-error Post needs its conversationId.
const missing: PostMutationVariables = {};
// The documents carry those types, for any client that reads TypedDocumentNode (Apollo Client, urql, graphql-request).
const sameData: ResultOf<typeof DashboardDocument> = data;
const sameVariables: VariablesOf<typeof PostDocument> = variables;
export { title, count, author, tenantName, variables, missing, sameData, sameVariables };
`;

/** The README's first graphql block: the Dashboard query and the Post mutation. */
async function readmeOperations(): Promise<string> {
  const readme = await readFile(path.join(REPOSITORY_ROOT, 'README.md'), 'utf8');
  const block = /```graphql\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no ```graphql block: expected the example operations near the top');
  return block;
}

async function runCodegen(cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CODEGEN, '--config', 'codegen.json'], { cwd, env: childEnv({}), timeout: 120_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** A scratch project outside the repository with `schemaText` as its schema.graphql. */
async function scratchProject(schemaText: string | null): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-schema-consumer-'));
  if (schemaText === null) await copyFile(path.join(REPOSITORY_ROOT, 'schema.graphql'), path.join(dir, 'schema.graphql'));
  else await writeFile(path.join(dir, 'schema.graphql'), schemaText);
  await symlink(path.join(REPOSITORY_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  await mkdir(path.join(dir, 'src'));
  await writeFile(path.join(dir, 'src/operations.graphql'), await readmeOperations());
  await writeFile(path.join(dir, 'codegen.json'), JSON.stringify(CODEGEN_CONFIG, null, 2));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'schema-consumer', private: true, type: 'module' }));
  return dir;
}

const scratches: string[] = [];
let committedSchema: string;
beforeAll(async () => {
  committedSchema = await readFile(path.join(REPOSITORY_ROOT, 'schema.graphql'), 'utf8');
});
afterAll(async () => {
  await Promise.all(scratches.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('schema.graphql consumed outside the repository', () => {
  it('generates types with the graphql-codegen client preset that a consumer type-checks against', async () => {
    const dir = await scratchProject(null);
    scratches.push(dir);
    expect(path.relative(REPOSITORY_ROOT, dir).startsWith('..')).toBe(true);
    const codegen = await runCodegen(dir);
    expect(codegen.code, codegen.output).toBe(0);
    expect((await readdir(path.join(dir, 'src/gql'))).sort()).toEqual(expect.arrayContaining(['gql.ts', 'graphql.ts', 'index.ts']));

    await writeFile(path.join(dir, 'src/consumer.ts'), CONSUMER);
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022'],
          types: [],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
        },
        files: ['src/consumer.ts'],
      }),
    );
    // An unused @ts-expect-error is itself an error, so the negative lines above fail if the types were `any`.
    const compiled = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, env: childEnv({}) }).catch(
      (error: { stdout: string }) => error,
    );
    expect(compiled.stdout).toBe('');
  }, 180_000);

  it('fails codegen, naming the field, when schema.graphql lacks a field the document uses (negative control)', async () => {
    // The committed schema with one field the README's Dashboard query selects taken out, as a stale copy would be.
    let removed = 0;
    const stale = print(
      visit(parse(committedSchema), {
        ObjectTypeDefinition(node) {
          if (node.name.value !== 'Conversation') return undefined;
          const fields = node.fields?.filter((field) => field.name.value !== 'messageCount');
          removed += (node.fields?.length ?? 0) - (fields?.length ?? 0);
          return { ...node, fields };
        },
      }),
    );
    expect(removed).toBe(1);
    const dir = await scratchProject(stale);
    scratches.push(dir);
    const codegen = await runCodegen(dir);
    expect(codegen.code).not.toBe(0);
    expect(codegen.output).toContain('Cannot query field "messageCount" on type "Conversation"');
  }, 180_000);
});
