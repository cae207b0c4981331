import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedDocuments } from '../src/server/trusted/trusted-documents.js';
import { childEnv, REPOSITORY_ROOT } from './support/processes.js';
import { startTestServer, type TestServer } from './support/server.js';
import { createTestTenant, type TestTenant } from './support/tenants.js';

const run = promisify(execFile);
const PACKAGE_DIR = path.join(REPOSITORY_ROOT, 'packages/sdk');
const TSC = path.join(REPOSITORY_ROOT, 'node_modules/typescript/bin/tsc');

/** A project outside the repository that uses the SDK only through its packed tarball. */
const CONSUMER = `
import { ConversationDocument, createClient, ViewerDocument, type ViewerQuery } from '@tenantgraph/sdk';
import type { GraphQLResponse } from '@tenantgraph/sdk/client';

declare const process: { env: Record<string, string | undefined>; exitCode: number };

const client = createClient({ url: process.env.API_URL!, token: process.env.API_TOKEN!, trustedDocuments: process.env.TRUSTED === '1' });
const viewer: GraphQLResponse<ViewerQuery> = await client.request(ViewerDocument);
// The types are the SDK's, not any: a field that the operation does not select and a missing variable fail.
// @ts-expect-error Viewer selects no 'slug' on the tenant.
void viewer.data?.viewer.tenant.slug;
// @ts-expect-error Conversation needs its id.
void client.request(ConversationDocument);
const name: string | undefined = viewer.data?.viewer.tenant.name;
console.log(JSON.stringify({ status: viewer.status, name, errors: viewer.errors ?? [] }));
`;

let scratch: string;
let server: TestServer;
let trustedServer: TestServer;
let tenant: TestTenant;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-sdk-consumer-'));
  [server, trustedServer, tenant] = await Promise.all([
    startTestServer({ production: true, introspection: false }),
    startTestServer({
      production: true,
      introspection: false,
      trustedDocuments: loadTrustedDocuments(path.join(REPOSITORY_ROOT, 'src/__generated__/sdk/persisted-documents.json')),
    }),
    createTestTenant(),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([server?.close(), trustedServer?.close()]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('@tenantgraph/sdk (packages/sdk)', () => {
  it('packs, installs into a project outside the repository, type-checks and runs under plain node', async () => {
    const env = childEnv({});
    // `npm pack` builds the package first (its prepack script: tsc -p packages/sdk/tsconfig.json).
    const packed = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: PACKAGE_DIR, env, timeout: 120_000 });
    const [pack] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    const { filename, files } = pack!;
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining(['dist/sdk/index.js', 'dist/sdk/index.d.ts', 'dist/sdk/client.js', 'dist/__generated__/sdk/graphql.js']),
    );
    // No TypeScript sources and nothing of the server in the tarball.
    expect(paths.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((file) => !file.startsWith('dist/sdk/') && !file.startsWith('dist/__generated__/sdk/') && file !== 'package.json')).toEqual(
      [],
    );

    await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(scratch, filename)], {
      cwd: scratch,
      env,
      timeout: 180_000,
    });
    // What the package pulls in: itself, graphql (its peer) and the typed-document-node types. Nothing else.
    const installed = await readdir(path.join(scratch, 'node_modules'), { recursive: false });
    const scoped = await Promise.all(
      installed
        .filter((name) => name.startsWith('@'))
        .map(async (scope) => (await readdir(path.join(scratch, 'node_modules', scope))).map((name) => `${scope}/${name}`)),
    );
    const packages = [...installed.filter((name) => !name.startsWith('@') && !name.startsWith('.')), ...scoped.flat()].sort();
    expect(packages).toEqual(['@graphql-typed-document-node/core', '@tenantgraph/sdk', 'graphql']);

    await writeFile(path.join(scratch, 'consumer.ts'), CONSUMER);
    await writeFile(
      path.join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          types: [],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          outDir: '.',
        },
        files: ['consumer.ts'],
      }),
    );
    const compiled = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: scratch, env }).catch((error: { stdout: string }) => error);
    expect(compiled.stdout).toBe('');

    const consume = async (url: string, trusted: boolean) => {
      const { stdout } = await run(process.execPath, ['consumer.js'], {
        cwd: scratch,
        env: childEnv({ API_URL: url, API_TOKEN: tenant.admin.token, TRUSTED: trusted ? '1' : '0' }),
      });
      return JSON.parse(stdout) as { status: number; name?: string; errors: unknown[] };
    };
    expect(await consume(server.url, false)).toEqual({ status: 200, name: tenant.name, errors: [] });
    // The packed documents carry the ids of the repository's manifest: a trusted-documents server runs them.
    expect(await consume(trustedServer.url, true)).toEqual({ status: 200, name: tenant.name, errors: [] });
    const refused = await consume(trustedServer.url, false);
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.errors)).toContain('OPERATION_NOT_TRUSTED');

    const manifest = JSON.parse(await readFile(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    expect(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }).sort()).toEqual(['@graphql-typed-document-node/core', 'graphql']);
  }, 300_000);
});
