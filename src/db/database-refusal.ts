/**
 * A refusal the operator must act on, not a bug: the database is unsafe to serve (safety-check.ts) or an applied
 * migration was edited (migration-checksums.ts). `npm start` prints its message, every problem with its fix,
 * without a stack trace, and exits 1 (src/server/start-application.ts).
 */
export class DatabaseRefusal extends Error {
  constructor(
    readonly headline: string,
    readonly problems: string[],
  ) {
    super(`${headline}\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = new.target.name;
  }
}
