import type { Message } from '../../lib/decisions';

/** The moderated conversation, the judged message marked. Content is shown as text, never as markup. */
export function Messages({ messages, target, testId }: { messages: readonly Message[]; target: string; testId?: string }) {
  const judged = messages.length - 1;
  return (
    <ol className="messages" data-testid={testId}>
      {messages.map((message, index) => (
        <li key={index} className={index === judged ? 'message message--judged' : 'message'}>
          <p className="message__role">
            {message.role}
            {index === judged && <span className="muted"> · judged ({target === 'response' ? 'response' : 'prompt'})</span>}
          </p>
          <p className="message__content">{message.content}</p>
        </li>
      ))}
    </ol>
  );
}
