// The offline explorer's browser entry, bundled by scripts/build-explorer.ts (esbuild) into dist/explorer/.
// Plain JavaScript on purpose: the repository's type check has no DOM library, and this file only wires
// npm packages together. Everything it needs from the server comes from the page's JSON config block, so
// the bundle is the same for every deployment and the page needs no inline script (CSP: script-src 'self').
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';

const config = JSON.parse(document.getElementById('explorer-config').textContent);

// Monaco runs its language services in web workers; esbuild builds each as its own file next to this one.
globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const name = label === 'json' ? 'json.worker.js' : label === 'graphql' ? 'graphql.worker.js' : 'editor.worker.js';
    return new Worker(`${config.assetsPath}/${name}`);
  },
};

// Subscriptions go over graphql-ws to the same path on this page's origin (ws:, or wss: behind https:), where
// the server accepts sockets. For each subscription the toolkit opens a graphql-ws client whose connection_init
// payload is the headers editor's JSON (`wsConnectionParams` merged with the pasted headers), so the pasted
// {"Authorization": …} line authenticates the socket the way it authenticates HTTP requests.
const subscriptionUrl = new URL(config.graphqlUrl, location.href);
subscriptionUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({ url: config.graphqlUrl, subscriptionUrl: subscriptionUrl.href });

createRoot(document.getElementById('graphiql')).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: config.defaultQuery,
    // New tabs start with the hint for the printed `{"Authorization": …}` line; the headers editor reads JSONC,
    // so the comment lines may stay when the line is pasted below them.
    defaultHeaders: config.defaultHeaders,
    initialHeaders: config.defaultHeaders,
    defaultEditorToolsVisibility: 'headers',
    // SECURITY: a token pasted here stays in this tab's memory only, never in localStorage.
    shouldPersistHeaders: false,
  }),
);
