import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the offline explorer's bundle lives and what it consists of: one fact shared by the build
 * (scripts/build-explorer.ts, run by `npm install`'s `prepare`) and the server that serves it.
 */

const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Built files, git-ignored (`dist/`): rebuilt on every `npm install` / `npm ci`, so they match the lockfile. */
export const EXPLORER_DIST_DIR = path.join(REPOSITORY_ROOT, 'dist', 'explorer');

/** The browser entry esbuild bundles. */
export const EXPLORER_ENTRY = path.join(REPOSITORY_ROOT, 'src', 'server', 'explorer', 'browser', 'graphiql-app.js');

/** Monaco's workers, each bundled as a file of its own (output name → module). */
export const EXPLORER_WORKERS: Record<string, string> = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};

/** The HTML page loads these two; everything else (workers, fonts) is loaded by them. */
export const EXPLORER_SCRIPT = 'graphiql-app.js';
export const EXPLORER_STYLESHEET = 'graphiql-app.css';
