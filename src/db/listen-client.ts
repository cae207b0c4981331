import pg from 'pg';

export interface ListenClientOptions {
  readonly url: string;
  readonly applicationName: string;
  /** A fixed identifier of ours (never input): it is written into `LISTEN` as it is. */
  readonly channel: string;
  /** Each notification on `channel` (others are ignored), with the client that heard it. */
  readonly onNotification: (message: pg.Notification, client: pg.Client) => void;
  /** The connection failed or ended after it was made: reconnect, and treat what it vouched for as unknown. */
  readonly onLost: (client: pg.Client, error: Error) => void;
  /** TCP keep-alive and a connect timeout, for a listener that must notice a host that drops packets. */
  readonly keepAlive?: boolean;
  readonly connectionTimeoutMillis?: number;
}

/**
 * A session connection that LISTENs on one channel, for the realtime wake-ups and the plan-change notices. Session,
 * not pooled: PgBouncer's transaction mode drops LISTEN. Rejects, having closed the connection, when it cannot
 * connect or LISTEN; afterwards its failures reach `onLost`.
 */
export async function connectListenClient(options: ListenClientOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.url,
    application_name: options.applicationName,
    ...(options.keepAlive ? { keepAlive: true } : {}),
    ...(options.connectionTimeoutMillis !== undefined ? { connectionTimeoutMillis: options.connectionTimeoutMillis } : {}),
  });
  client.on('notification', (message) => {
    if (message.channel === options.channel) options.onNotification(message, client);
  });
  client.on('error', (error) => options.onLost(client, error));
  client.on('end', () => options.onLost(client, new Error(`the LISTEN connection of ${options.applicationName} ended`)));
  try {
    await client.connect();
    await client.query(`LISTEN ${options.channel}`);
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  return client;
}
