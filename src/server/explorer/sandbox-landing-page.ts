import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';

/** The element id of the pointer, for tests and for the script that reveals it. */
export const OFFLINE_POINTER_ID = 'tenantgraph-offline-explorer';

/**
 * Apollo Sandbox's development landing page with a way out when its UI cannot load: Sandbox comes from Apollo's
 * CDN, and offline the page only said "Apollo Sandbox cannot be loaded". Apollo's page loads the CDN script
 * synchronously, so a script placed after it knows whether `window.EmbeddedSandbox` arrived; when it did not,
 * it reveals a link to the offline explorer this server serves itself. The script carries the page's own CSP
 * nonce. Should Apollo's markup ever lack a nonce, the link is shown unconditionally rather than lost.
 */
export function sandboxLandingPageWithOfflinePointer<TContext extends object>(explorerPath: string): ApolloServerPlugin<TContext> {
  const sandbox = ApolloServerPluginLandingPageLocalDefault({ footer: false, includeCookies: false }) as ApolloServerPlugin<TContext>;
  return {
    async serverWillStart(service) {
      const listener = await sandbox.serverWillStart!(service);
      const render = listener?.renderLandingPage;
      if (!render) throw new Error("Apollo's local landing page plugin rendered no landing page; the Sandbox page cannot be served.");
      return {
        async renderLandingPage() {
          const { html } = await render();
          return { html: async () => withOfflinePointer(typeof html === 'string' ? html : await html(), explorerPath) };
        },
      };
    },
  };
}

/** Inserts the pointer (hidden) and the nonce'd script that reveals it before `</body>` of Apollo's page. */
export function withOfflinePointer(html: string, explorerPath: string): string {
  const nonce = /<script nonce="([0-9a-f]+)"/.exec(html)?.[1];
  const block = `
<div id="${OFFLINE_POINTER_ID}"${nonce ? ' hidden' : ''} class="tenantgraph-offline">
  <h2>Offline? Use the explorer this server ships</h2>
  <p>Apollo Sandbox loads its UI from Apollo's CDN. The offline explorer (GraphiQL, served by this server, no internet
  needed) is at <a href="${explorerPath}">${explorerPath}</a>; paste the same <code>{"Authorization": …}</code> header there.</p>
</div>
${nonce ? `<style nonce="${nonce}">.tenantgraph-offline { position: relative; z-index: 1; padding: 0 1em; font-family: sans-serif; }</style>` : ''}
${nonce ? `<script nonce="${nonce}">if (!window.EmbeddedSandbox) document.getElementById('${OFFLINE_POINTER_ID}').hidden = false;</script>` : ''}
`;
  const end = html.lastIndexOf('</body>');
  return end === -1 ? html + block : html.slice(0, end) + block + html.slice(end);
}
