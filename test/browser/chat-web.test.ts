import { execFile } from 'node:child_process';
import { browserTestsRun, CHROMIUM, CHROMIUM_ARGS, chromiumInstalled } from './support/chromium.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, PostMessageDocument } from '../../src/__generated__/sdk/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * The example web client (examples/chat-web: Vite, React, Apollo Client 4 with GraphQLWsLink) built from this
 * checkout and driven in Debian's chromium through playwright-core, as test/browser/explorer.test.ts does. The
 * API runs production-configured, with the page's origin in CORS_ORIGINS, so the browser's CORS check is the
 * product's. Every request that leaves the loopback interface is aborted: the built page needs no CDN.
 */

const runs = browserTestsRun('test/browser/chat-web.test.ts');

const REPO = path.resolve(import.meta.dirname, '../..');
const VITE_BIN = path.join(path.dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin/vite.js');

// How long to wait for an event (a delivery, a socket closing): generous, because CI runs the suite in parallel
// on two cores; an event that comes returns at once.
const WAIT_MS = 20_000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A static file server for the built example on a port of its own (any server that serves files will do). */
async function serveStatic(root: string): Promise<{ origin: string; server: Server }> {
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root + path.sep)) return void response.writeHead(404).end();
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { origin: `http://127.0.0.1:${port}`, server };
}

describe.skipIf(!runs)('examples/chat-web in a browser', () => {
  const unique = `${process.pid}x${Date.now().toString(36)}`;
  let buildDir: string;
  let userDataDir: string;
  let page: { origin: string; server: Server };
  let api: TestServer;
  let tenantA: TestTenant;
  let tenantB: TestTenant;
  let conversationA: string;
  let conversationB: string;
  let context: BrowserContext;
  const leftLoopback: string[] = [];
  const tabs: Page[] = [];

  beforeAll(async () => {
    if (!chromiumInstalled) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does, as root).`);
    // The page under test is built from this checkout's sources (what `npm run example:build` does), into a
    // directory of this run: a stale examples/chat-web/dist/ cannot make the test pass.
    buildDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-chat-web-'));
    await promisify(execFile)(
      process.execPath,
      [VITE_BIN, 'build', 'examples/chat-web', '--outDir', buildDir, '--emptyOutDir', '--logLevel', 'warn'],
      {
        cwd: REPO,
        timeout: 120_000,
      },
    );
    page = await serveStatic(buildDir);
    api = await startTestServer({ production: true, introspection: false, corsOrigins: [page.origin] });
    [tenantA, tenantB] = await Promise.all([createTestTenant({ name: `ChatA-${unique}` }), createTestTenant({ name: `ChatB-${unique}` })]);
    const create = async (tenant: TestTenant, title: string) => {
      const { data, errors } = await api.client(tenant.admin.token).request(CreateConversationDocument, { input: { title } });
      expect(errors).toBeUndefined();
      return data!.createConversation.conversation.id;
    };
    conversationA = await create(tenantA, `room-a-${unique}`);
    conversationB = await create(tenantB, `room-b-${unique}`);
    userDataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    await context.route('**/*', async (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]') return route.continue();
      leftLoopback.push(route.request().url());
      return route.abort('internetdisconnected');
    });
  });
  // Each test starts with no tab open, so the server's subscription counts are the test's own.
  afterEach(async () => {
    await Promise.all(tabs.splice(0).map((tab) => tab.close()));
  });
  afterAll(async () => {
    await context?.close();
    await api?.close();
    await new Promise((resolve) => (page ? page.server.close(resolve) : resolve(undefined)));
    for (const dir of [userDataDir, buildDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A tab of the example as a user opens it: the API URL and the token in the query string (README). */
  async function openTab(tenant: TestTenant, conversationId: string, problems?: string[]): Promise<Page> {
    const tab = await openPage(api, tenant, conversationId, problems);
    await tab.getByTestId('tenant-name').filter({ hasText: tenant.name }).waitFor();
    await tab.locator('section[aria-label="Conversation"] h2').waitFor();
    return tab;
  }

  async function openPage(server: TestServer, tenant: TestTenant, conversationId: string, problems?: string[]): Promise<Page> {
    const tab = await context.newPage();
    tabs.push(tab);
    if (problems) {
      tab.on('pageerror', (error) => problems.push(error.message));
      tab.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
    }
    const query = new URLSearchParams({ api: server.url, token: tenant.admin.token, conversation: conversationId });
    await tab.goto(`${page.origin}/?${query}`);
    return tab;
  }

  /** Posts over HTTP with the SDK, from outside every tab. */
  async function postMessage(tenant: TestTenant, conversationId: string, body: string): Promise<void> {
    const { errors } = await api.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId, body } });
    expect(errors).toBeUndefined();
  }

  const messageIn = (tab: Page, text: string) => tab.locator('ol[aria-label="Messages"] li', { hasText: text });

  it("shows a message posted in tenant A's tab live in A's other tab, and never in tenant B's", { timeout: 90_000 }, async () => {
    const problems: string[] = [];
    const a1 = await openTab(tenantA, conversationA, problems);
    const a2 = await openTab(tenantA, conversationA, problems);
    const b = await openTab(tenantB, conversationB, problems);
    // The token left the address bar (it stays in the tab's sessionStorage).
    expect(a1.url()).not.toContain('token=');
    // graphql-ws acknowledges no subscribe: wait until the server holds every tab's subscription, so a message
    // committed from now on is one each tab is entitled to receive live.
    await expect.poll(() => api.realtime.subscriptionsOf(tenantA.id), { timeout: WAIT_MS }).toBe(2);
    await expect.poll(() => api.realtime.subscriptionsOf(tenantB.id), { timeout: WAIT_MS }).toBe(1);
    // A reload would drop this mark: its presence afterwards proves the message arrived live.
    await a2.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));

    const fromA = `hello from A ${unique}`;
    await a1.getByRole('textbox', { name: 'Message' }).fill(fromA);
    await a1.getByRole('button', { name: 'Send' }).click();
    await messageIn(a2, fromA).waitFor({ timeout: WAIT_MS });
    await messageIn(a1, fromA).waitFor({ timeout: WAIT_MS });
    expect(await a2.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    await expect.poll(() => a1.getByRole('textbox', { name: 'Message' }).inputValue(), { timeout: WAIT_MS }).toBe('');

    // The negative, event-based: B's tab receives a later B-only message, so it was live and delivering after
    // A's message had been committed and delivered to A's tabs; A's text is still not there.
    const fromB = `hello from B ${unique}`;
    await postMessage(tenantB, conversationB, fromB);
    await messageIn(b, fromB).waitFor({ timeout: WAIT_MS });
    expect(await b.locator('body').innerText()).not.toContain(fromA);
    expect(await a2.locator('body').innerText()).not.toContain(fromB);
    expect(await b.getByTestId('subscription-error').count()).toBe(0);

    expect(leftLoopback).toEqual([]);
    expect(problems).toEqual([]);
  });

  it("gives tenant B nothing of A's when B's tab subscribes with A's conversation id", { timeout: 90_000 }, async () => {
    await expect.poll(() => api.realtime.subscriptionsOf(tenantA.id), { timeout: WAIT_MS }).toBe(0);
    await expect.poll(() => api.realtime.subscriptionsOf(tenantB.id), { timeout: WAIT_MS }).toBe(0);
    const a = await openTab(tenantA, conversationA);
    const foreign = await openTab(tenantB, conversationA);
    // Another tenant's conversation looks exactly like one that does not exist: no title, no messages, and the
    // subscription is refused with NOT_FOUND (never FORBIDDEN, which would confirm that it exists).
    await expect
      .poll(() => foreign.locator('section[aria-label="Conversation"] h2').innerText(), { timeout: WAIT_MS })
      .toBe('Conversation not found');
    await expect.poll(() => foreign.getByTestId('subscription-error').innerText(), { timeout: WAIT_MS }).toContain('NOT_FOUND');
    await expect.poll(() => api.realtime.subscriptionsOf(tenantA.id), { timeout: WAIT_MS }).toBe(1);
    expect(api.realtime.subscriptionsOf(tenantB.id)).toBe(0);

    const fromA = `second from A ${unique}`;
    await postMessage(tenantA, conversationA, fromA);
    await messageIn(a, fromA).waitFor({ timeout: WAIT_MS });
    expect(await foreign.locator('ol[aria-label="Messages"] li').count()).toBe(0);
    const shown = await foreign.locator('body').innerText();
    expect(shown).not.toContain(fromA);
    expect(shown).not.toContain(`hello from A ${unique}`);
    expect(shown).not.toContain(`room-a-${unique}`);
    expect(leftLoopback).toEqual([]);
  });

  it("is refused by a production API whose CORS_ORIGINS does not list the page's origin", { timeout: 90_000 }, async () => {
    // The control of the tests above: they pass because CORS_ORIGINS lists the page, not because nothing checks.
    const strict = await startTestServer({ production: true, introspection: false, corsOrigins: ['https://app.example.test'] });
    try {
      const problems: string[] = [];
      const tab = await openPage(strict, tenantA, conversationA, problems);
      await expect.poll(() => tab.getByTestId('tenant-name').innerText(), { timeout: WAIT_MS }).toMatch(/Failed to fetch/);
      expect(await tab.locator('body').innerText()).not.toContain(tenantA.name);
      expect(problems.some((problem) => /CORS policy/.test(problem))).toBe(true);
    } finally {
      await strict.close();
    }
  });
});
