import net from 'node:net';

/** A TCP relay a test can cut and restore: the network between a server and a service, as a real socket. */
export interface TcpProxy {
  readonly port: number;
  /** Drops every relayed connection and refuses new ones (ECONNREFUSED) until `restore`. */
  cut(): Promise<void>;
  /** Accepts and relays again, on the same port. */
  restore(): Promise<void>;
  /**
   * The connections open now stop relaying in both directions, without closing (no FIN, no RST): a network that
   * silently drops their packets. New connections relay as usual.
   */
  stall(): void;
  close(): Promise<void>;
}

/** Relays 127.0.0.1:<port> to `target`; each accepted connection gets its own upstream connection. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<net.Socket>();
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const stop = () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of open) socket.destroy();
    return closed;
  };
  return {
    port,
    cut: stop,
    restore: () => listen(port),
    stall() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
      pairs.clear();
    },
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
