import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../src/config/env.js';
import { planListenUrl } from '../../src/server/start-application.js';

const EMBEDDED_APP_URL = 'postgres://tenantgraph_app@127.0.0.1:54329/tenantgraph';
const EXTERNAL = { DATABASE_URL: 'postgres://owner@db:5432/tg', DATABASE_URL_APP: 'postgres://app@pgbouncer:6432/tg' };

describe('PLAN_CACHE_* and PLAN_LISTEN_DATABASE_URL', () => {
  it('defaults to 30 s without a listener and 10 minutes with one', () => {
    const env = loadEnv({});
    expect([env.PLAN_CACHE_TTL_MS, env.PLAN_CACHE_LISTENING_TTL_MS, env.PLAN_LISTEN_DATABASE_URL]).toEqual([30_000, 600_000, undefined]);
  });

  it('refuses a listening freshness shorter than the short one, and a URL that is not postgres://', () => {
    let problems: string[] = [];
    try {
      loadEnv({ PLAN_CACHE_TTL_MS: '60000', PLAN_CACHE_LISTENING_TTL_MS: '30000', PLAN_LISTEN_DATABASE_URL: 'redis://x' });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        'PLAN_CACHE_LISTENING_TTL_MS: must not be shorter than PLAN_CACHE_TTL_MS (60000), received 30000',
        expect.stringMatching(/^PLAN_LISTEN_DATABASE_URL: must be a postgres:\/\//),
      ]),
    );
  });

  it('listens on the embedded app URL, on an explicit or the realtime LISTEN URL, never on an external app URL by itself, and in Citus mode only when told', () => {
    expect(planListenUrl(loadEnv({}), EMBEDDED_APP_URL)).toBe(EMBEDDED_APP_URL);
    expect(planListenUrl(loadEnv(EXTERNAL), EMBEDDED_APP_URL)).toBeNull();
    expect(planListenUrl(loadEnv({ ...EXTERNAL, REALTIME_LISTEN_DATABASE_URL: 'postgres://app@db:5432/tg' }), EMBEDDED_APP_URL)).toBe(
      'postgres://app@db:5432/tg',
    );
    expect(planListenUrl(loadEnv({ ...EXTERNAL, PLAN_LISTEN_DATABASE_URL: 'postgres://app@db-direct:5432/tg' }), EMBEDDED_APP_URL)).toBe(
      'postgres://app@db-direct:5432/tg',
    );
    expect(planListenUrl(loadEnv({ TENANT_CONTEXT_MODE: 'citus' }), EMBEDDED_APP_URL)).toBeNull();
    expect(
      planListenUrl(loadEnv({ TENANT_CONTEXT_MODE: 'citus', PLAN_LISTEN_DATABASE_URL: 'postgres://app@coordinator/tg' }), EMBEDDED_APP_URL),
    ).toBe('postgres://app@coordinator/tg');
  });
});
