import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApolloClient } from './apollo-client';
import { App } from './app';
import { readSettings } from './settings';

const root = createRoot(document.getElementById('root')!);
const settings = readSettings(window.location, window.sessionStorage, window.history);
if (settings.token === null) {
  root.render(
    <p role="alert">
      No token: open this page as <code>?api=http://localhost:4000/graphql&amp;token=&lt;JWT&gt;</code> (<code>npm start</code> prints a token per
      demo tenant).
    </p>,
  );
} else {
  const client = createApolloClient({ ...settings, token: settings.token });
  root.render(
    <StrictMode>
      <ApolloProvider client={client}>
        <App initialConversationId={settings.conversationId} />
      </ApolloProvider>
    </StrictMode>,
  );
}
