import { ConversationDocument, MessagePostedDocument, PostMessageDocument } from '@tenantgraph/sdk';
import { useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { describeError } from './errors';

interface ShownMessage {
  id: string;
  body: string;
  createdAt: string;
  author: { displayName: string };
}

/**
 * One conversation: its latest 50 messages from a query, then every new one live from `messagePosted`, and a box
 * to post. A message arriving both ways (posted while the query ran) is shown once, by id. A client that must not
 * miss a message across a reconnect keeps the last event `cursor` and resubscribes with `after: cursor`
 * (README › Realtime › Resume contract); this example shows what the query returns when the view is opened.
 */
export function ConversationView({ conversationId }: { conversationId: string }) {
  const conversation = useQuery(ConversationDocument, { variables: { id: conversationId, first: 50 } });
  const [live, setLive] = useState<ShownMessage[]>([]);
  const subscription = useSubscription(MessagePostedDocument, {
    variables: { conversationId },
    onData: ({ data }) => {
      const message = data.data?.messagePosted.message;
      if (message) setLive((shown) => (shown.some((m) => m.id === message.id) ? shown : [...shown, message]));
    },
  });
  const [post, posting] = useMutation(PostMessageDocument);
  const [draft, setDraft] = useState('');

  if (conversation.error) return <p role="alert">{describeError(conversation.error)}</p>;
  if (!conversation.data) return <p>Loading…</p>;
  const found = conversation.data.conversation;

  // The query lists newest first; a chat reads oldest first.
  const fetched: ShownMessage[] = found ? found.messages.edges.map(({ node }) => node).reverse() : [];
  const fetchedIds = new Set(fetched.map((m) => m.id));
  const messages = [...fetched, ...live.filter((m) => !fetchedIds.has(m.id))];

  const send = async (event: FormEvent) => {
    event.preventDefault();
    const body = draft.trim();
    if (!body) return;
    // The message reaches this tab like every other one: through the subscription.
    try {
      await post({ variables: { input: { conversationId, body } } });
      setDraft('');
    } catch {
      // Shown below from `posting.error`; the draft stays for another try.
    }
  };

  return (
    <section aria-label="Conversation">
      <h2 style={{ fontSize: '1.1rem' }}>{found ? found.title : 'Conversation not found'}</h2>
      {subscription.error ? (
        <p role="alert" data-testid="subscription-error">
          Live updates stopped: {describeError(subscription.error)}
        </p>
      ) : null}
      <ol aria-label="Messages" style={{ listStyle: 'none', padding: 0 }}>
        {messages.map((m) => (
          <li key={m.id} data-message-id={m.id}>
            <strong>{m.author.displayName}</strong>: <span className="body">{m.body}</span>
          </li>
        ))}
      </ol>
      {found ? (
        <form onSubmit={(event) => void send(event)}>
          <input aria-label="Message" value={draft} onChange={(event) => setDraft(event.target.value)} maxLength={4000} />
          <button type="submit" disabled={posting.loading}>
            Send
          </button>
          {posting.error ? <p role="alert">{describeError(posting.error)}</p> : null}
        </form>
      ) : null}
    </section>
  );
}
