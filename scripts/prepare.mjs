// `npm install` / `npm ci` run this as `prepare`. Plain JavaScript on purpose: it must run where tsx is absent.
// With dev dependencies (a developer's install) it builds the offline explorer through scripts/build-explorer.ts.
// Without them (`npm ci --omit=dev`, the Docker image's production stage) neither tsx nor GraphiQL is installed,
// so there is nothing to build: it says so and succeeds.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
try {
  require.resolve('tsx');
} catch {
  console.log('prepare: tsx is not installed (dev dependencies omitted); the offline explorer is not built.');
  process.exit(0);
}
const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build-explorer.ts'], { stdio: 'inherit' });
process.exit(run.status ?? 1);
