import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino); human-readable in development when stdout is a terminal.
 * SECURITY: tokens and secrets are never logged; `redact` is a second line of defence for headers.
 */
export function createLogger(options: { level: string; pretty: boolean }): Logger {
  return pino({
    level: options.level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token', 'token'], censor: '[redacted]' },
    ...(options.pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
