import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module) builds. Node, and so Apollo Server in node_modules, loads
    // the CommonJS one; Vite would give our sources the ESM one, and GraphQLError `instanceof` checks would then
    // fail across the two copies. Resolve it the way Node does.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    // bench/test/: tests of the benchmark itself (its "API without RLS", its documents), kept with the bench so
    // that test/ never imports bench/ (test/unit/import-layers.test.ts).
    include: ['test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    setupFiles: ['test/setup/verify-cached-statements.ts'],
    // Each test creates its own tenants, so files run in parallel against one migrated database.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'threads',
  },
});
