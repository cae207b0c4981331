import type { IncomingMessage } from 'node:http';

/**
 * The address a tokenless client is counted by: the TCP peer of its connection. The one derivation of it, shared
 * by the HTTP path's per-address bound (HTTP_MAX_IN_FLIGHT_PER_ADDRESS) and the WebSocket path's bound on sockets
 * not yet authenticated (REALTIME_MAX_PENDING_SOCKETS_PER_ADDRESS), so both count a client the same way.
 *
 * SECURITY: no `X-Forwarded-For` or `Forwarded` header is read — there is no trusted-proxy setting, and a header a
 * client writes would let it pick a fresh key per request. Behind a reverse proxy every client therefore shares
 * the proxy's address: raise the per-address bounds there, or let the proxy enforce its own.
 * A socket whose peer is already gone has no address; such requests share one key, `unknown`.
 */
export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}
