import { isConnectionFailure } from '../errors/connection-failure.js';

/** What the lifecycle reports; `npm start` replaces the stderr default with its pino logger once it has one. */
export interface LifecycleLog {
  info(message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

const stderrLog: LifecycleLog = {
  info: (message) => process.stderr.write(`${message}\n`),
  warn: (details, message) => process.stderr.write(`${message} ${describe(details)}\n`),
  error: (details, message) => process.stderr.write(`${message} ${describe(details)}\n`),
};

/** Start-up refused to go on and has said why already (e.g. invalid configuration): exit 1, nothing more to print. */
export class StartupRefused extends Error {
  constructor() {
    super('start-up refused');
  }
}

/** Thrown by `checkpoint()` when a stop was requested during start-up: start-up unwinds and stop() takes over. */
export class StopRequested extends Error {
  constructor() {
    super('stop requested during start-up');
  }
}

/**
 * The process's start and stop, for `npm start` (src/main.ts).
 *
 * Why this exists: a signal that arrives before its handler is installed kills Node outright, and anything it had
 * started (the embedded PostgreSQL above all) keeps running. So the entry point creates this first, before it
 * loads anything slow, and every part that start-up brings up registers how to stop it (`onStop`). A stop during
 * start-up waits for the step in progress to settle (a postmaster half started cannot be stopped safely), start-up
 * then unwinds at its next `checkpoint()`, and everything registered stops in reverse order. Exit code 0 for a
 * requested stop, 1 for a failed start-up or a fatal error.
 *
 * Fatal errors: an uncaught exception or unhandled rejection that is a database connection failure (a socket that
 * died, PostgreSQL restarting) is logged and survived — it is an event of the world, not of the code; anything else
 * is a programming error, logged with context, and the process stops in order and exits 1.
 */
export class ProcessLifecycle {
  log: LifecycleLog = stderrLog;
  /** After a stop began, the process exits 1 if it has not finished by then (a hung pool or postmaster). */
  hardDeadlineMs = 25_000;
  #cleanups: { name: string; stop: () => Promise<void> }[] = [];
  #startup: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  #stopRequested = false;

  constructor(private readonly exit: (code: number) => void = (code) => process.exit(code)) {}

  /** Installs the signal handlers and the fatal-error policy. Call it first thing. */
  install(): this {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => void this.stop(`${signal} received`, 0));
    }
    process.on('uncaughtException', (error) => this.#fatal(error, 'uncaught exception'));
    process.on('unhandledRejection', (reason) => this.#fatal(reason, 'unhandled promise rejection'));
    return this;
  }

  get stopRequested(): boolean {
    return this.#stopRequested;
  }

  /** Runs start-up; a stop requested meanwhile waits for it. Start-up failure stops what was started and exits 1. */
  run(startup: () => Promise<void>): void {
    this.#startup = startup().catch((error: unknown) => {
      if (error instanceof StopRequested) return;
      // A step that failed because the stop interrupted it (a signal to the whole process group reaches initdb or
      // postgres too) is part of stopping, not a failure of its own.
      if (this.#stopRequested) this.log.warn({ err: describeError(error) }, 'start-up step interrupted by the stop');
      else if (!(error instanceof StartupRefused)) this.log.error({ err: error }, 'start-up failed');
      void this.stop(error instanceof StartupRefused ? '' : 'start-up failed', 1);
    });
  }

  /** Between start-up steps: unwinds start-up when a stop was requested. */
  checkpoint(): void {
    if (this.#stopRequested) throw new StopRequested();
  }

  /** Registers how to stop a part that start-up brought up; parts stop in reverse order of registration. */
  onStop(name: string, stop: () => Promise<void>): void {
    this.#cleanups.push({ name, stop });
  }

  /** Stops every registered part (once), then exits with `exitCode`. An empty reason stops silently. */
  stop(reason: string, exitCode: number): Promise<void> {
    this.#stopRequested = true;
    this.#stopping ??= (async () => {
      if (reason) this.log.info(`${reason}: stopping`);
      setTimeout(() => {
        this.log.error({ deadlineMs: this.hardDeadlineMs }, 'stopping did not finish in time; exiting');
        this.exit(1);
      }, this.hardDeadlineMs).unref();
      // A part half brought up cannot be stopped safely: let the step in progress settle first.
      await this.#startup;
      let code = exitCode;
      for (const { name, stop } of this.#cleanups.reverse()) {
        try {
          await stop();
        } catch (error) {
          this.log.error({ err: error }, `stopping ${name} failed`);
          code = 1;
        }
      }
      this.exit(code);
    })();
    return this.#stopping;
  }

  #fatal(error: unknown, origin: string): void {
    if (isConnectionFailure(error)) {
      this.log.warn({ err: describeError(error), origin }, 'a database connection failed outside any request; carrying on');
      return;
    }
    this.log.error({ err: error, origin }, 'programming error: stopping the process');
    void this.stop(origin, 1);
  }
}

function describeError(error: unknown): Record<string, unknown> {
  return { message: error instanceof Error ? error.message : String(error), code: (error as { code?: unknown }).code };
}

function describe(details: Record<string, unknown>): string {
  const err = details.err;
  const text = err instanceof Error ? (err.stack ?? err.message) : JSON.stringify(details);
  return text;
}
