import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EXPLORER_DIST_DIR, EXPLORER_SCRIPT, EXPLORER_STYLESHEET } from './explorer-assets.js';
import { DEFAULT_EXPLORER_HEADERS, DEFAULT_EXPLORER_QUERY, EXPLORER_CSP, renderExplorerPage, renderMissingBundlePage } from './explorer-page.js';

/** Where the offline explorer is served; the Sandbox page and the startup banner point here. */
export const EXPLORER_PATH = '/graphiql';
const ASSETS_PATH = `${EXPLORER_PATH}/assets`;

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ttf': 'font/ttf',
};

export interface ExplorerRoutes {
  /** Whether the path belongs to the explorer (its page or an asset). */
  handles(pathname: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): void;
  /** False when the bundle is missing (then the page explains how to build it). */
  readonly built: boolean;
}

/**
 * The offline explorer's routes: `GET /graphiql` (the page) and `GET /graphiql/assets/<file>`. The bundle is read
 * once into memory (about 7 MB); only files the build wrote are served, by exact name, so no request reaches
 * any other file. `distDir` is a parameter for tests only.
 */
export async function createExplorerRoutes(options: { graphqlPath: string; distDir?: string }): Promise<ExplorerRoutes> {
  const distDir = options.distDir ?? EXPLORER_DIST_DIR;
  const assets = new Map<string, { body: Buffer; etag: string }>();
  const names = await readdir(distDir).catch(() => [] as string[]);
  for (const name of names) {
    if (!CONTENT_TYPES[path.extname(name)]) continue;
    const body = await readFile(path.join(distDir, name));
    assets.set(name, { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  const built = assets.has(EXPLORER_SCRIPT) && assets.has(EXPLORER_STYLESHEET);
  const page = built
    ? renderExplorerPage(
        { graphqlUrl: options.graphqlPath, assetsPath: ASSETS_PATH, defaultQuery: DEFAULT_EXPLORER_QUERY, defaultHeaders: DEFAULT_EXPLORER_HEADERS },
        { script: EXPLORER_SCRIPT, stylesheet: EXPLORER_STYLESHEET },
      )
    : renderMissingBundlePage(distDir);

  return {
    built,
    handles: (pathname) => pathname === EXPLORER_PATH || pathname.startsWith(`${ASSETS_PATH}/`),
    serve(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.statusCode = 405;
        res.setHeader('allow', 'GET, HEAD');
        res.end();
        return;
      }
      res.setHeader('x-content-type-options', 'nosniff');
      if (pathname === EXPLORER_PATH) {
        res.statusCode = built ? 200 : 503;
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.setHeader('content-security-policy', EXPLORER_CSP);
        res.setHeader('cache-control', 'no-store');
        res.end(req.method === 'HEAD' ? undefined : page);
        return;
      }
      const name = pathname.slice(ASSETS_PATH.length + 1);
      const asset = assets.get(name);
      if (!asset) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end(`Not found: ${EXPLORER_PATH} has no asset by this name.`);
        return;
      }
      // Names are stable across builds (a reinstall rebuilds them): revalidate by content hash, never cache blindly.
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('etag', asset.etag);
      if (req.headers['if-none-match'] === asset.etag) {
        res.statusCode = 304;
        res.end();
        return;
      }
      res.statusCode = 200;
      res.setHeader('content-type', CONTENT_TYPES[path.extname(name)]!);
      res.setHeader('content-length', asset.body.length);
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    },
  };
}
