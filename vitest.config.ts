import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    // Each test creates its own tenants, so files run in parallel against one migrated database.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'threads',
  },
});
