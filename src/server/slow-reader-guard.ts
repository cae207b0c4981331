import type { ServerResponse } from 'node:http';

/**
 * Drops a response its client does not read. Once the body is handed to the socket, every `timeoutMs` the
 * guard checks that the socket's unsent bytes went down; if they did not (the client's receive window stayed
 * shut for a whole period) and the response has not finished, the connection is reset and destroyed, which
 * frees the buffered body. Without it, 60 clients that sent a 15 MB query and never read held ~2 GB.
 *
 * Progress, not a total deadline: a slow but steady reader keeps its response. Node's socket idle timeout
 * is not used because the server's keep-alive handling resets it after the first response on a connection.
 * Call it right after the body was written (`res.end(…)`); it stops on `finish` or `close`.
 */
export function guardSlowReader(res: ServerResponse, timeoutMs: number, onDrop: (unsentBytes: number) => void): void {
  const socket = res.socket;
  if (!socket || res.writableFinished || socket.writableLength === 0) return;
  let unsent = socket.writableLength;
  const check = () => {
    const now = socket.writableLength;
    if (now < unsent) {
      unsent = now;
      timer.refresh();
      return;
    }
    onDrop(now);
    // RST instead of FIN: the kernel discards its send buffer too instead of retrying it to a silent peer.
    if (typeof socket.resetAndDestroy === 'function' && !socket.destroyed) socket.resetAndDestroy();
    else socket.destroy();
  };
  const timer = setTimeout(check, timeoutMs);
  timer.unref();
  const stop = () => clearTimeout(timer);
  res.once('finish', stop);
  res.once('close', stop);
}
