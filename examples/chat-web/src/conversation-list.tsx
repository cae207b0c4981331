import { ConversationsDocument } from '@tenantgraph/sdk';
import { useQuery } from '@apollo/client/react';
import { describeError } from './errors';

/** The tenant's open conversations (the first 50); the server decides which tenant from the token alone. */
export function ConversationList({ selectedId, onSelect }: { selectedId: string | null; onSelect: (id: string) => void }) {
  const { data, error } = useQuery(ConversationsDocument, { variables: { first: 50, filter: { archived: false } } });
  if (error) return <p role="alert">{describeError(error)}</p>;
  if (!data) return <p>Loading conversations…</p>;
  return (
    <nav aria-label="Conversations">
      <ul style={{ listStyle: 'none', padding: 0 }}>
        {data.conversations.edges.map(({ node }) => (
          <li key={node.id}>
            <button type="button" aria-current={node.id === selectedId ? 'page' : undefined} onClick={() => onSelect(node.id)}>
              {node.title} ({node.messageCount})
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
