import { existsSync } from 'node:fs';

/** Debian's chromium, driven by playwright-core (never a downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** The flags this machine's headless chromium needs (README › Tests; a fresh user-data dir per test file). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const chromiumInstalled = existsSync(CHROMIUM);

/**
 * Whether a browser test file runs: in CI a missing browser is a failure (its beforeAll throws), never a silent
 * skip; locally it is skipped, said out loud.
 */
export function browserTestsRun(file: string): boolean {
  if (!chromiumInstalled && !process.env.CI) {
    console.warn(`${file} skipped: ${CHROMIUM} is missing (apt-get install chromium); CI runs it.`);
    return false;
  }
  return true;
}
