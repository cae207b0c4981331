import { connect } from 'node:net';
import type pg from 'pg';

/**
 * Asks the server to cancel whatever statement `client` is running, with the protocol's CancelRequest message
 * (PostgreSQL docs, "Canceling Requests in Progress"): a new socket, 16 bytes, closed by the server. It needs no
 * pool slot and no SQL privilege, and PgBouncer forwards it to the right server connection. The statement then
 * fails with SQLSTATE 57014; the caller still rolls the transaction back.
 *
 * Best effort by design: resolves when the message was sent or when sending failed (the statement timeout still
 * bounds the statement). Unix-socket hosts (a path) use PostgreSQL's socket file name.
 */
export function sendCancelRequest(client: pg.ClientBase): Promise<void> {
  const { processID, secretKey, host, port } = client as unknown as { processID?: number; secretKey?: number; host: string; port: number };
  if (processID == null || secretKey == null) return Promise.resolve();
  const message = Buffer.alloc(16);
  message.writeInt32BE(16, 0);
  message.writeInt32BE(80877102, 4); // the CancelRequest code: 1234 << 16 | 5678
  message.writeInt32BE(processID, 8);
  message.writeInt32BE(secretKey, 12);
  return new Promise<void>((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('connect', () => socket.end(message));
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
  });
}
