import { PostgresWakeChannel } from './postgres-wake-channel.js';
import { RedisWakeChannel } from './redis-wake-channel.js';
import type { WakeHandlers, WakeTransport } from './wake-transport.js';

/**
 * The wake-up transports the settings ask for — PostgreSQL LISTEN (`listenUrl`), Redis pub/sub (`redisUrl`),
 * both, or none — each with its handlers. With both, every wake-up goes out on both and either one wakes a
 * replica (a duplicate costs nothing: a feed already woken coalesces it), so one transport being down
 * delays nothing.
 */
export function wakeTransportsFor(
  settings: { readonly listenUrl: string | null; readonly redisUrl: string | null; readonly redisChannel: string },
  handlers: (transport: WakeTransport['name']) => WakeHandlers,
): WakeTransport[] {
  const transports: WakeTransport[] = [];
  if (settings.listenUrl) transports.push(new PostgresWakeChannel({ url: settings.listenUrl, ...handlers('postgres') }));
  if (settings.redisUrl) transports.push(new RedisWakeChannel({ url: settings.redisUrl, channel: settings.redisChannel, ...handlers('redis') }));
  return transports;
}
