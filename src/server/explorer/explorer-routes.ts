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
 * The offline explorer's routes: `GET /graphiql` (the page) and `GET /graphiql/assets/<file>`. Each file of the
 * bundle (about 7 MB in all) is read into memory once, on its first request; only files the build wrote are
 * served, by exact name, so no request reaches any other file. `distDir` is a parameter for tests only.
 */
export async function createExplorerRoutes(options: { graphqlPath: string; distDir?: string }): Promise<ExplorerRoutes> {
  const distDir = options.distDir ?? EXPLORER_DIST_DIR;
  // The names are listed at start; each file is read on its first request and kept (every test server starts
  // with the explorer on, and most never serve it).
  const names = new Set((await readdir(distDir).catch(() => [] as string[])).filter((name) => CONTENT_TYPES[path.extname(name)]));
  const assets = new Map<string, Promise<Asset>>();
  const load = (name: string) => {
    let asset = assets.get(name);
    if (!asset) {
      asset = readFile(path.join(distDir, name)).then((body) => ({
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      }));
      // A failed read (the directory rebuilt meanwhile) is retried by the next request.
      asset.catch(() => assets.delete(name));
      assets.set(name, asset);
    }
    return asset;
  };
  const built = names.has(EXPLORER_SCRIPT) && names.has(EXPLORER_STYLESHEET);
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
      if (!names.has(name)) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end(`Not found: ${EXPLORER_PATH} has no asset by this name.`);
        return;
      }
      load(name).then(
        (asset) => sendAsset(req, res, name, asset),
        () => {
          res.statusCode = 503;
          res.setHeader('content-type', 'text/plain; charset=utf-8');
          res.end('The explorer asset could not be read; run `npm run build:explorer` and reload.');
        },
      );
    },
  };
}

interface Asset {
  body: Buffer;
  etag: string;
}

function sendAsset(req: IncomingMessage, res: ServerResponse, name: string, asset: Asset): void {
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
}
