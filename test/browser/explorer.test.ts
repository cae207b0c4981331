import { browserTestsRun, CHROMIUM, CHROMIUM_ARGS, chromiumInstalled } from './support/chromium.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, PostMessageDocument } from '../../src/__generated__/sdk/graphql.js';
import { OFFLINE_POINTER_ID } from '../../src/server/explorer/sandbox-landing-page.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { createTestTenant, type TestTenant } from '../support/tenants.js';

/**
 * The explorers in a real browser: Debian's chromium driven by playwright-core (no browser download; `.ci/run`
 * installs the package). Every request that leaves the loopback interface is aborted, so "Apollo's CDN is
 * unreachable" holds on any machine, online or not.
 */

const runs = browserTestsRun('test/browser/explorer.test.ts');

describe.skipIf(!runs)('the explorers in a browser', () => {
  let server: TestServer;
  let tenant: TestTenant;
  let userDataDir: string;
  let context: BrowserContext;
  const leftLoopback: string[] = [];

  beforeAll(async () => {
    if (!chromiumInstalled) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (.ci/run does, as root).`);
    server = await startTestServer();
    const unique = `${process.pid}x${Date.now().toString(36)}`;
    tenant = await createTestTenant({ name: `ExplorerTenant-${unique}` });
    await server.client(tenant.admin.token).request(CreateConversationDocument, { input: { title: `explorer-${unique}` } });
    userDataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantgraph-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    await context.route('**/*', async (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]') return route.continue();
      leftLoopback.push(route.request().url());
      return route.abort('internetdisconnected');
    });
  });
  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  /** An editor's text as a reader sees it (Monaco renders spaces as no-break spaces). */
  const editorText = async (locator: ReturnType<Page['locator']>) => (await locator.innerText()).replace(/\u00a0/g, ' ');

  async function openExplorer(page: Page, url: string, operation = /query\s+Viewer/): Promise<void> {
    await page.goto(url);
    await page.locator('.graphiql-container').waitFor();
    // Monaco is up when the query editor shows the default operation.
    await expect.poll(() => editorText(page.locator('.graphiql-query-editor'))).toMatch(operation);
  }

  /** Page errors and console errors (a CSP refusal is one) of a page, collected from now on. */
  function problemsOf(page: Page): string[] {
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    return problems;
  }

  /** Pastes the header line `npm start` prints below the hint in the Headers tab. */
  async function pasteAuthorization(page: Page, token: string): Promise<void> {
    const headersEditor = page.locator('section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)');
    await expect.poll(() => editorText(headersEditor)).toMatch(/Paste one of the header lines/);
    await headersEditor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText(`{"Authorization": "Bearer ${token}"}`);
  }

  it('runs a query with a pasted demo header and shows the tenant data in the result pane', async () => {
    const page = await context.newPage();
    const problems = problemsOf(page);
    await openExplorer(page, server.explorerUrl!);
    await pasteAuthorization(page, tenant.admin.token);
    await page.locator('.graphiql-execute-button').click();
    const result = page.locator('.result-window');
    await expect.poll(() => editorText(result), { timeout: 20_000 }).toContain(tenant.name);
    const text = await editorText(result);
    expect(text).toContain('explorer-');
    expect(text).not.toContain('UNAUTHENTICATED');
    // Nothing left the machine, and the page's CSP refused nothing the explorer needs (workers, fonts, styles).
    expect(leftLoopback).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("runs a subscription over graphql-ws with the pasted header: A's message appears live, B's explorer shows nothing of it", async () => {
    const unique = `${process.pid}x${Date.now().toString(36)}`;
    const tenantB = await createTestTenant({ name: `ExplorerTenantB-${unique}` });
    const conversationOf = async (owner: TestTenant) =>
      (await server.client(owner.admin.token).request(CreateConversationDocument, { input: { title: `live-${unique}` } })).data!.createConversation
        .conversation.id;
    const [conversationA, conversationB] = await Promise.all([conversationOf(tenant), conversationOf(tenantB)]);

    /** One explorer tab subscribed as `owner` to `conversationId`, with the frames its sockets sent and received. */
    const subscribeInExplorer = async (owner: TestTenant, conversationId: string, operationName: string) => {
      const page = await context.newPage();
      const problems = problemsOf(page);
      const sockets: string[] = [];
      const sent: string[] = [];
      const received: string[] = [];
      page.on('websocket', (socket) => {
        sockets.push(socket.url());
        socket.on('framesent', (frame) => sent.push(String(frame.payload)));
        socket.on('framereceived', (frame) => received.push(String(frame.payload)));
      });
      // GraphiQL restores the last query from localStorage, which the tabs of this context share: any operation.
      await openExplorer(page, server.explorerUrl!, /(query|subscription)\s+\w+/);
      await pasteAuthorization(page, owner.admin.token);
      const queryEditor = page.locator('.graphiql-query-editor');
      await queryEditor.click();
      await page.keyboard.press('Control+A');
      await page.keyboard.insertText(`subscription ${operationName} { messagePosted(conversationId: "${conversationId}") { message { body } } }`);
      await expect.poll(() => editorText(queryEditor)).toContain(conversationId);
      // GraphiQL parses the edited document after a debounce and only then knows it is a subscription (a run
      // before that goes over HTTP); the tab takes the operation's name in the same step.
      await expect.poll(() => page.locator('.graphiql-tab-active').innerText()).toBe(operationName);
      await page.locator('.graphiql-execute-button').click();
      return { page, problems, sockets, sent, received, result: page.locator('.result-window') };
    };

    const a = await subscribeInExplorer(tenant, conversationA, 'LiveA');
    const b = await subscribeInExplorer(tenantB, conversationB, 'LiveB');
    // Posted once both subscriptions run (a subscription starts at the stream's head).
    await expect
      .poll(() => [server.realtime.subscriptionsOf(tenant.id), server.realtime.subscriptionsOf(tenantB.id)], { timeout: 20_000 })
      .toEqual([1, 1]);
    // The socket went to this origin's /graphql, authenticated by the pasted header as connection_init payload.
    expect(a.sockets).toEqual([server.url.replace(/^http/, 'ws')]);
    expect(JSON.parse(a.sent[0]!)).toEqual({ type: 'connection_init', payload: { Authorization: `Bearer ${tenant.admin.token}` } });

    await server.client(tenant.admin.token).request(PostMessageDocument, { input: { conversationId: conversationA, body: `A-live-${unique}` } });
    await expect.poll(() => editorText(a.result), { timeout: 20_000 }).toContain(`A-live-${unique}`);
    // A later B-only message reaches B's tab: had A's message been sent to B, its frame would have come first.
    await server.client(tenantB.admin.token).request(PostMessageDocument, { input: { conversationId: conversationB, body: `B-live-${unique}` } });
    await expect.poll(() => editorText(b.result), { timeout: 20_000 }).toContain(`B-live-${unique}`);
    expect(b.received.some((frame) => frame.includes(`B-live-${unique}`))).toBe(true);
    expect(b.received.filter((frame) => frame.includes(`A-live-${unique}`))).toEqual([]);
    expect(await editorText(b.result)).not.toContain(`A-live-${unique}`);

    // The execute button stops a running subscription, and the server ends it.
    await a.page.locator('.graphiql-execute-button').click();
    await expect.poll(() => server.realtime.subscriptionsOf(tenant.id), { timeout: 20_000 }).toBe(0);
    // Nothing left the machine, and the page's CSP (connect-src 'self') allowed the same-origin socket.
    expect(leftLoopback).toEqual([]);
    expect([a.problems, b.problems]).toEqual([[], []]);
    await Promise.all([a.page.close(), b.page.close()]);
  });

  it('points to the offline explorer from /graphql when Apollo Sandbox cannot load from its CDN', async () => {
    const page = await context.newPage();
    await page.goto(server.url);
    const pointer = page.locator(`#${OFFLINE_POINTER_ID}`);
    await pointer.waitFor({ state: 'visible' });
    expect(await pointer.innerText()).toMatch(/offline explorer/i);
    // The CDN was asked for, and refused: the pointer appeared because Sandbox could not load, not by chance.
    expect(leftLoopback.some((url) => url.startsWith('https://embeddable-sandbox.cdn.apollographql.com/'))).toBe(true);
    await pointer.locator('a').click();
    await page.waitForURL(server.explorerUrl!);
    await page.locator('.graphiql-container').waitFor();
    await page.close();
  });
});
