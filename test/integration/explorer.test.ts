import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExplorerRoutes } from '../../src/server/explorer/explorer-routes.js';
import { OFFLINE_POINTER_ID } from '../../src/server/explorer/sandbox-landing-page.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** The explorers over HTTP: what is served where, in development and production (the browser test drives them). */

const origin = (server: TestServer) => new URL(server.url).origin;

describe('the offline explorer at /graphiql', () => {
  let development: TestServer;
  let production: TestServer;
  let productionWithExplorer: TestServer;
  beforeAll(async () => {
    [development, production, productionWithExplorer] = await Promise.all([
      startTestServer(),
      startTestServer({ production: true, introspection: false }),
      startTestServer({ production: true, introspection: true, explorer: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([development.close(), production.close(), productionWithExplorer.close()]);
  });

  it('serves the page, with a CSP that allows only this server, and every asset it names', async () => {
    expect(development.explorerUrl).toBe(`${origin(development)}/graphiql`);
    const response = await fetch(development.explorerUrl!);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'(;|$)/);
    const html = await response.text();
    const config = JSON.parse(/<script type="application\/json" id="explorer-config">(.*?)<\/script>/s.exec(html)![1]!);
    expect(config.graphqlUrl).toBe('/graphql');
    expect(config.defaultHeaders).toContain('{"Authorization": "Bearer ');
    expect(config.defaultQuery).toMatch(/query Viewer/);
    // No CDN: every script and stylesheet comes from this server.
    const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.length).toBeGreaterThanOrEqual(2);
    for (const url of referenced) {
      expect(url, url).toMatch(/^\/graphiql\/assets\//);
      const asset = await fetch(`${origin(development)}${url}`);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get('content-type'), url).toMatch(/^text\/(javascript|css)/);
      expect((await asset.arrayBuffer()).byteLength, url).toBeGreaterThan(10_000);
    }
    for (const worker of ['editor.worker.js', 'json.worker.js', 'graphql.worker.js']) {
      expect((await fetch(`${origin(development)}/graphiql/assets/${worker}`)).status, worker).toBe(200);
    }
  });

  it('answers a revalidation with 304', async () => {
    const url = `${origin(development)}/graphiql/assets/graphiql-app.css`;
    const etag = (await fetch(url)).headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(url, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
  });

  it('serves no other file: unknown names, encoded traversal and other methods are refused', async () => {
    for (const name of ['missing.js', '%2e%2e%2fpackage.json', '..%2F..%2Fpackage.json', 'graphiql-app.js.map']) {
      expect((await fetch(`${origin(development)}/graphiql/assets/${name}`)).status, name).toBe(404);
    }
    expect((await fetch(development.explorerUrl!, { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('is off in production unless configured, and so is Sandbox', async () => {
    expect(production.explorerUrl).toBeNull();
    expect((await fetch(`${origin(production)}/graphiql`)).status).toBe(404);
    expect((await fetch(`${origin(production)}/graphiql/assets/graphiql-app.js`)).status).toBe(404);
    const landing = await (await fetch(production.url, { headers: { accept: 'text/html' } })).text();
    expect(landing).not.toContain('EmbeddedSandbox');
    expect(landing).not.toContain(OFFLINE_POINTER_ID);
  });

  it('is served in production with explorer: true (GRAPHQL_EXPLORER=on), Sandbox too', async () => {
    expect((await fetch(productionWithExplorer.explorerUrl!)).status).toBe(200);
    const landing = await (await fetch(productionWithExplorer.url, { headers: { accept: 'text/html' } })).text();
    expect(landing).toContain('new window.EmbeddedSandbox(');
  });
});

describe('the Sandbox landing page at /graphql', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('carries a hidden pointer to /graphiql and a script, with the page nonce, that reveals it when Sandbox did not load', async () => {
    const html = await (await fetch(server.url, { headers: { accept: 'text/html' } })).text();
    const nonce = /<meta http-equiv="Content-Security-Policy" content="[^"]*'nonce-([0-9a-f]+)'/.exec(html)?.[1];
    expect(nonce).toBeTruthy();
    expect(html).toContain(`<div id="${OFFLINE_POINTER_ID}" hidden`);
    expect(html).toContain('<a href="/graphiql">/graphiql</a>');
    const reveal = html.indexOf(`<script nonce="${nonce}">if (!window.EmbeddedSandbox)`);
    // After the CDN script, so it runs once that script has loaded or failed.
    expect(reveal).toBeGreaterThan(html.indexOf('embeddable-sandbox.umd.production.min.js'));
  });
});

describe('createExplorerRoutes without a built bundle', () => {
  let dir: string;
  let http: Server;
  let base: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-no-explorer-'));
    const routes = await createExplorerRoutes({ graphqlPath: '/graphql', distDir: dir });
    expect(routes.built).toBe(false);
    http = createServer((req, res) => routes.serve(req, res, new URL(req.url ?? '/', 'http://x').pathname));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => http.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with how to build it', async () => {
    const response = await fetch(`${base}/graphiql`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build:explorer');
  });
});
