import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { EVENT_LABELS, when } from './format';
import { policyApi } from './policyApi';

export function AuditTab({ slug }: { slug: string }) {
  const events = useResource(() => policyApi.events(slug), slug, { keepErrorWhileLoading: true });
  return (
    <section className="card" aria-labelledby="audit-heading" aria-busy={events.loading}>
      <div className="card__header">
        <h2 id="audit-heading">Audit timeline</h2>
        <button type="button" className="button button--secondary button--small" onClick={events.reload} disabled={events.loading}>
          Refresh
        </button>
      </div>
      {events.error !== null && <ErrorMessage title="Could not load the audit trail" error={events.error} onRetry={events.reload} />}
      {events.loading && !events.data && <Loading label="Loading the audit trail…" />}
      {events.data && events.data.length === 0 && <p className="muted">Nothing has happened to this policy yet.</p>}
      {events.data && events.data.length > 0 && (
        <ol className="timeline" data-testid="audit-timeline">
          {events.data.map((event, index) => (
            <li key={index} className={`timeline__item timeline__item--${event.kind}`} data-kind={event.kind}>
              <p>
                <strong>{EVENT_LABELS[event.kind] ?? event.kind}</strong>
                {event.version !== null && ` · version ${event.version}`}
                {' · '}
                {event.actor ?? 'system'}
              </p>
              <p className="muted">
                <time dateTime={event.created_at}>{when(event.created_at)}</time>
              </p>
              {event.note && <p className="timeline__note">{event.note}</p>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
