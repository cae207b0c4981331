import { ProcessLifecycle } from './server/process-lifecycle.js';

/**
 * `npm start`. The process lifecycle is the first thing that exists — its signal handlers are installed before
 * anything slow is even loaded — so SIGINT/SIGTERM at any moment of start-up (loading, starting the embedded
 * PostgreSQL, migrating, seeding) stops whatever was already started and exits 0. Start-up itself lives in
 * server/start-application.ts and is imported only now.
 */
const lifecycle = new ProcessLifecycle().install();
lifecycle.run(async () => {
  const { startApplication } = await import('./server/start-application.js');
  lifecycle.checkpoint();
  await startApplication(lifecycle);
});
