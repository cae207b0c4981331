import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_REALTIME_SETTINGS, loadEnv } from '../../src/config/env.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('REALTIME_* settings', () => {
  it('defaults to 24 h or 10,000 events of retention, 20 subscriptions per socket and no LISTEN URL', () => {
    const env = loadEnv({});
    expect(env.REALTIME_RETENTION_MS).toBe(24 * 60 * 60 * 1000);
    expect(env.REALTIME_RETENTION_EVENTS).toBe(10_000);
    expect(env.REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET).toBe(DEFAULT_REALTIME_SETTINGS.maxSubscriptionsPerSocket);
    expect(env.REALTIME_LISTEN_DATABASE_URL).toBeUndefined();
  });

  it('reports every bad setting at once, naming it', () => {
    const found = problems({
      REALTIME_LISTEN_DATABASE_URL: 'http://db:5432',
      REALTIME_POLL_INTERVAL_MS: '0',
      REALTIME_QUEUE_MAX_EVENTS: 'many',
      REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: '50',
      REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT: '10',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^REALTIME_LISTEN_DATABASE_URL: must be a postgres:\/\//),
        expect.stringMatching(/^REALTIME_POLL_INTERVAL_MS: /),
        expect.stringMatching(/^REALTIME_QUEUE_MAX_EVENTS: /),
      ]),
    );
  });

  it('refuses a per-socket limit above the per-tenant limit', () => {
    expect(problems({ REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: '50', REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT: '10' })).toEqual([
      'REALTIME_MAX_SUBSCRIPTIONS_PER_SOCKET: must not exceed REALTIME_MAX_SUBSCRIPTIONS_PER_TENANT (10)',
    ]);
  });

  it('bounds pending sockets to 16 per address and 1000 per server by default, and refuses a per-address bound above the total', () => {
    const env = loadEnv({});
    expect(env.REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS).toBe(16);
    expect(env.REALTIME_MAX_PENDING_SOCKETS).toBe(1000);
    expect(problems({ REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS: '50', REALTIME_MAX_PENDING_SOCKETS: '10' })).toEqual([
      'REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS: must not exceed REALTIME_MAX_PENDING_SOCKETS (10)',
    ]);
  });

  it('has no Redis by default, and accepts only redis:// or rediss:// URLs and channel names without glob characters', () => {
    const env = loadEnv({});
    expect(env.REALTIME_REDIS_URL).toBeUndefined();
    expect(env.REALTIME_REDIS_CHANNEL).toBe('tenantgraph_realtime');
    expect(
      loadEnv({ REALTIME_REDIS_URL: 'rediss://user:pw@cache.internal:6380/2', REALTIME_REDIS_CHANNEL: 'prod:eu-1.wake' }).REALTIME_REDIS_URL,
    ).toBe('rediss://user:pw@cache.internal:6380/2');
    expect(problems({ REALTIME_REDIS_URL: 'http://cache:6379', REALTIME_REDIS_CHANNEL: 'wake*' })).toEqual([
      'REALTIME_REDIS_URL: must be a redis:// or rediss:// URL',
      'REALTIME_REDIS_CHANNEL: must consist of letters, digits and _ . : - only (it is used in a PSUBSCRIBE pattern)',
    ]);
  });
});
