import { browserTestsRun, CHROMIUM, CHROMIUM_ARGS, chromiumInstalled } from './support/chromium.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument } from '../../src/__generated__/sdk/graphql.js';
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

  async function openExplorer(page: Page, url: string): Promise<void> {
    await page.goto(url);
    await page.locator('.graphiql-container').waitFor();
    // Monaco is up when the query editor shows the default operation.
    await expect.poll(() => editorText(page.locator('.graphiql-query-editor'))).toMatch(/query\s+Viewer/);
  }

  it('runs a query with a pasted demo header and shows the tenant data in the result pane', async () => {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await openExplorer(page, server.explorerUrl!);
    const headersEditor = page.locator('section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden)');
    await expect.poll(() => editorText(headersEditor)).toMatch(/Paste one of the header lines/);
    // The line `npm start` prints, pasted below the hint.
    await headersEditor.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.insertText(`{"Authorization": "Bearer ${tenant.admin.token}"}`);
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
