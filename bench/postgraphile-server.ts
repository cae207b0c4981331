/**
 * The peer: PostGraphile v5 (amber preset, pg adaptor) in a process of its own, on the bench's database, as the
 * same app role (`tenantgraph_app`, so the same RLS policies), with the API's own JWT verifier (jose, the same
 * token cache). Per request its `pgSettings` apply what `app.enter_tenant` sets, transaction-locally
 * (PostGraphile sends `begin`, `select set_config(k, v, true) …`, the query, `commit`):
 * `app.current_tenant`, `app.current_user`, `statement_timeout` and `idle_in_transaction_session_timeout`.
 * What it does not do is the API's membership check (enter_tenant's TG002) and the audit trail; the bench
 * README says so next to its figures.
 *
 * PostGraphile 5 declares Node >= 22; on Node 20 it needs `Promise.withResolvers`, polyfilled here, in this
 * bench-only launcher (never in src/), before PostGraphile is loaded.
 *
 * Started by bench/run.ts with its configuration in BENCH_SERVER_CONFIG; reports counters over IPC.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { installStatementCounter, reportStartupFailure, serveParent, serverConfigFromEnv } from './lib/server-process.js';

if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  // The ES2024 semantics: a new promise and its two settling functions.
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

const config = serverConfigFromEnv();
installStatementCounter();

try {
  // Loaded after the polyfill: PostGraphile's modules may use Promise.withResolvers at load time.
  const { postgraphile } = await import('postgraphile');
  const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
  const { makePgService } = await import('postgraphile/adaptors/pg');
  const { grafserv } = await import('postgraphile/grafserv/node');

  const pool = new pg.Pool({ connectionString: config.appUrl, max: config.poolMax, application_name: 'bench-postgraphile' });
  pool.on('error', () => {});
  const verifyToken = createTokenVerifier({ secret: config.jwtSecret, tenantClaim: 'tenant_id' });

  const preset: GraphileConfig.Preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [makePgService({ pool, schemas: ['public'], pubsub: false })],
    grafserv: { graphqlPath: '/graphql', graphiql: false, websockets: false, watch: false },
    grafast: {
      explain: false,
      async context(requestContext) {
        const principal = await verifyToken(requestContext.node?.req.headers.authorization);
        return {
          pgSettings: {
            'app.current_tenant': principal.tenantId,
            'app.current_user': principal.userId,
            statement_timeout: String(config.statementTimeoutMs),
            idle_in_transaction_session_timeout: String(config.idleInTransactionTimeoutMs),
          },
        };
      },
    },
  };
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  await serv.addTo(server);
  await pgl.getSchema();
  server.on('error', reportStartupFailure);
  server.listen(0, '127.0.0.1', () => {
    serveParent((server.address() as AddressInfo).port, async () => {
      server.close();
      server.closeAllConnections();
      await pgl.release();
      await pool.end();
    });
  });
} catch (error) {
  reportStartupFailure(error);
}
