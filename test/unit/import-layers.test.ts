import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forbiddenImports, importEdges, repositorySources, type SourceFile } from '../support/import-layers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// The fake sources below are assembled from pieces: written out whole, they would be imports of this very file
// to the scanner, which reads string literals like code (it is a regex, not a parser).
const FROM = ['fr', 'om'].join('');
const IMPORT = ['im', 'port'].join('');
const staticImport = (specifier: string) => `${IMPORT} { x } ${FROM} '${specifier}';`;
const reExport = (specifier: string) => `export { y } ${FROM} "${specifier}";`;
const dynamicImport = (specifier: string) => `const m = await ${IMPORT}('${specifier}');`;
const file = (path: string, ...lines: string[]): SourceFile => ({ path, source: lines.join('\n') });

describe('import layers (README › Architecture)', () => {
  it('has no import against the layers in src/, test/, bench/ or scripts/', () => {
    const files = repositorySources(ROOT);
    // The scan must see the code it guards: files in each folder, and their relative imports.
    for (const folder of ['src/', 'test/', 'bench/', 'scripts/']) expect(files.some((f) => f.path.startsWith(folder))).toBe(true);
    expect(importEdges(files).filter((edge) => edge.from.startsWith('src/server/')).length).toBeGreaterThan(50);
    expect(forbiddenImports(files)).toEqual([]);
  });

  it('names file -> import for each forbidden edge (negative control)', () => {
    const fake = [
      file(
        'src/db/pool.ts',
        staticImport('../../test/support/server.js'),
        staticImport('../../bench/lib/workloads.js'),
        dynamicImport('../../scripts/codegen.js'),
      ),
      file('src/modules/messages/resolvers.ts', staticImport('../../server/logger.js')),
      file('src/graphql/connection.ts', staticImport('../server/apollo.js')),
      file('src/observability/metrics.ts', reExport('../server/plugins/abuse-limits.js')),
      file('src/tenancy/request-transaction.ts', staticImport('../audit/audit-log.js')),
      file('bench/run.ts', staticImport('../test/support/tenants.js')),
      file('scripts/codegen.ts', dynamicImport('../test/setup/global-setup.js')),
      file('test/plans.test.ts', reExport('../bench/lib/workloads.js')),
    ];
    expect(forbiddenImports(fake)).toEqual([
      'src/db/pool.ts -> ../../test/support/server.js (the product does not import test/)',
      'src/db/pool.ts -> ../../bench/lib/workloads.js (the product does not import bench/)',
      'src/db/pool.ts -> ../../scripts/codegen.js (the product does not import scripts/)',
      'src/modules/messages/resolvers.ts -> ../../server/logger.js (domain modules do not import the server)',
      'src/graphql/connection.ts -> ../server/apollo.js (the GraphQL layer does not import the server)',
      'src/observability/metrics.ts -> ../server/plugins/abuse-limits.js (observability does not import the server)',
      'src/tenancy/request-transaction.ts -> ../audit/audit-log.js (tenancy does not import audit (audit -> tenancy only, no cycle))',
      'bench/run.ts -> ../test/support/tenants.js (the bench does not import test/ (only its own tests, bench/test/, do))',
      'scripts/codegen.ts -> ../test/setup/global-setup.js (scripts do not import test/)',
      'test/plans.test.ts -> ../bench/lib/workloads.js (tests do not import bench/ (tests of the bench live in bench/test/))',
    ]);
  });

  it('allows the edges the layering wants, and ignores packages and comments', () => {
    const allowed = [
      file('src/audit/audit-log.ts', staticImport('../tenancy/tenant-transaction.js')),
      file('src/server/create-server.ts', staticImport('../observability/metrics.js'), staticImport('pino')),
      file('bench/test/bench-switch.test.ts', staticImport('../../test/support/server.js'), staticImport('../lib/no-rls-server.js')),
      file(
        'test/support/server.ts',
        `// ${staticImport('../../bench/lib/workloads.js')}`,
        `/* ${dynamicImport('../../bench/x.js')} */`,
        staticImport('../../src/server/create-server.js'),
      ),
    ];
    expect(forbiddenImports(allowed)).toEqual([]);
    expect(importEdges(allowed).map((edge) => edge.target)).toEqual([
      'src/tenancy/tenant-transaction.js',
      'src/observability/metrics.js',
      'test/support/server.js',
      'bench/lib/no-rls-server.js',
      'src/server/create-server.js',
    ]);
  });
});
