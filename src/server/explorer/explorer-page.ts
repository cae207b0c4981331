/**
 * The offline explorer's HTML page: the bundled GraphiQL (dist/explorer), its settings in a JSON block (no
 * inline script, so the page's CSP can be `script-src 'self'`), and a message when the bundle is missing.
 */

/** The hint the headers editor starts with. The editor reads JSONC, so the comments may stay above a pasted line. */
export const DEFAULT_EXPLORER_HEADERS = [
  '// Paste one of the header lines `npm start` prints (or a token of your identity provider) here, e.g.',
  '// {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9..."}',
  '',
].join('\n');

/** A named operation, so more operations can be added to the same document and run one by one. */
export const DEFAULT_EXPLORER_QUERY = `# The offline explorer of this server: GraphiQL, served without any CDN.
# Put a header in the Headers tab below, then run (Ctrl-Enter). Subscriptions run here too, e.g.
# subscription { messagePosted(conversationId: "<id>") { message { body } } }
# (over a WebSocket on the same /graphql, authenticated by the same header; run again to stop).
query Viewer {
  viewer {
    user { displayName }
    tenant { name }
  }
  conversations(first: 5) {
    nodes { id title messageCount }
  }
}
`;

export interface ExplorerPageConfig {
  graphqlUrl: string;
  assetsPath: string;
  defaultQuery: string;
  defaultHeaders: string;
}

/** The Content-Security-Policy of the page: everything from this server; Monaco sets inline styles. */
export const EXPLORER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function renderExplorerPage(config: ExplorerPageConfig, files: { script: string; stylesheet: string }): string {
  // `<` escaped, so no value can close the script element the JSON sits in.
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width,initial-scale=1" />
    <title>Tenantgraph explorer (GraphiQL)</title>
    <link rel="stylesheet" href="${config.assetsPath}/${files.stylesheet}" />
    <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
  </head>
  <body>
    <div id="graphiql">Loading the explorer…</div>
    <script type="application/json" id="explorer-config">${json}</script>
    <script src="${config.assetsPath}/${files.script}"></script>
  </body>
</html>
`;
}

export function renderMissingBundlePage(distDir: string): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8" /><title>Explorer not built</title></head>
  <body>
    <h1>The offline explorer is not built</h1>
    <p>Its files are missing from <code>${escapeHtml(distDir)}</code>. They are built by <code>npm install</code> /
    <code>npm ci</code> (with dev dependencies); build them now with <code>npm run build:explorer</code> and reload.</p>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
