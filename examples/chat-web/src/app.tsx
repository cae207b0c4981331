import { ViewerDocument } from '@tenantgraph/sdk';
import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { ConversationList } from './conversation-list';
import { ConversationView } from './conversation-view';
import { describeError } from './errors';
import { rememberConversation } from './settings';

/** The signed-in user's tenant, its conversations, and the open one. */
export function App({ initialConversationId }: { initialConversationId: string | null }) {
  const [conversationId, setConversationId] = useState(initialConversationId);
  const viewer = useQuery(ViewerDocument);
  const open = (id: string) => {
    rememberConversation(window.location, window.history, id);
    setConversationId(id);
  };
  return (
    <div style={{ display: 'flex', gap: '2rem', fontFamily: 'system-ui, sans-serif' }}>
      <aside style={{ minWidth: '14rem' }}>
        <h1 style={{ fontSize: '1.2rem' }} data-testid="tenant-name">
          {viewer.data ? viewer.data.viewer.tenant.name : viewer.error ? describeError(viewer.error) : '…'}
        </h1>
        <ConversationList selectedId={conversationId} onSelect={open} />
      </aside>
      <main style={{ flex: 1 }}>
        {conversationId ? <ConversationView key={conversationId} conversationId={conversationId} /> : <p>Pick a conversation.</p>}
      </main>
    </div>
  );
}
