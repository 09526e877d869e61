import { useEffect, useState, type ReactNode } from 'react';
import { Link, useLocation, useParams } from 'react-router-dom';

import { ApiError, NETWORK_ERROR_STATUS } from '../../api';
import { ErrorMessage, Loading } from '../../components/Feedback';
import {
  decisionListHref,
  describeWebhook,
  fetchDecision,
  fetchPolicyVersion,
  labelsGiven,
  retryWebhook,
  webhookPollMs,
  type DecisionDetail,
  type PolicyVersion,
  type WebhookDelivery,
} from '../../lib/decisions';
import { formatDateTime, formatMs, formatScore } from '../../lib/format';
import { categoryAnchor, citedCategories, traceSegments } from '../../lib/trace';
import { useInterval, useResource } from '../../lib/useResource';
import { Messages } from './Messages';
import { TraceText } from './TraceText';
import { VerdictBadge } from './Verdict';

function Row({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <div className="details__row">
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </div>
  );
}

/**
 * The decision's webhook, and "Try again" while it has failed (its receiver was down longer than the
 * attempts lasted). Whatever the answer to a retry, the decision is read again, so the row shows
 * where the delivery stands: a retry refused because someone else already retried it shows the
 * delivery pending, not the stale failure with its button. The refusal stays in view under it.
 */
function WebhookRow({
  decisionId,
  webhook,
  reload,
}: {
  decisionId: string;
  webhook: WebhookDelivery;
  reload: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const retry = async () => {
    setBusy(true);
    setError(null);
    let answered = true;
    try {
      await retryWebhook(decisionId);
    } catch (caught) {
      setError(caught);
      answered = !(caught instanceof ApiError && caught.status === NETWORK_ERROR_STATUS);
    } finally {
      setBusy(false);
    }
    if (answered) reload();
  };
  return (
    <Row label="Webhook" testId="decision-webhook">
      {describeWebhook(webhook, formatDateTime)}
      {webhook.status === 'failed' && (
        <>
          {' '}
          <button type="button" className="button button--secondary button--small" onClick={retry} disabled={busy}>
            Try again
          </button>
        </>
      )}
      {error !== null && <ErrorMessage title="Could not try the webhook again" error={error} />}
    </Row>
  );
}

export function DecisionDetailPage() {
  const { id = '' } = useParams();
  const location = useLocation();
  // The list this page was opened from, read once: following a category anchor (#…) on this page
  // makes a history entry without the router state.
  const [listHref] = useState(() => decisionListHref(location.state));
  const decision = useResource((signal) => fetchDecision(id, signal), id);
  const data = decision.data;
  const versionKey = data ? `${data.policy.slug}@${data.policy.version}` : '';
  const version = useResource<PolicyVersion | null>(
    (signal) => (data ? fetchPolicyVersion(data.policy.slug, data.policy.version, signal) : Promise.resolve(null)),
    versionKey,
  );
  // A decision the guard has not finished yet completes on its own, and a pending webhook is
  // delivered (or given up) by the worker: follow either until it is settled.
  const webhookPoll = webhookPollMs(data?.webhook);
  const pollMs = data?.status === 'pending' ? 2000 : webhookPoll;
  useInterval(decision.reload, pollMs ?? 2000, pollMs !== null && decision.error === null);

  useEffect(() => {
    document.title = 'Decision · Arbiter';
  }, []);

  return (
    <div className="stack">
      <p>
        <Link to={listHref}>← Decision audit</Link>
      </p>
      <div className="page__heading">
        <h1>
          Decision <code className="decision-id">{id}</code>
        </h1>
      </div>
      {decision.error !== null && (
        <ErrorMessage title="Could not load the decision" error={decision.error} onRetry={decision.reload} />
      )}
      {!data && decision.loading && <Loading label="Loading the decision…" />}
      {data && (
        <DecisionBody
          decision={data}
          version={version.data}
          versionError={version.error}
          reloadVersion={version.reload}
          reload={decision.reload}
        />
      )}
    </div>
  );
}

function DecisionBody({
  decision,
  version,
  versionError,
  reloadVersion,
  reload,
}: {
  decision: DecisionDetail;
  version: PolicyVersion | null;
  versionError: unknown;
  reloadVersion: () => void;
  reload: () => void;
}) {
  const categories = version?.categories ?? [];
  const listed = citedCategories(decision.categories, traceSegments(decision.reasoning, categories), categories);
  const history = decision.review_history;

  return (
    <div className="audit">
      <div className="audit__main stack">
        <section className="card" aria-labelledby="summary-heading">
          <div className="card__header">
            <h2 id="summary-heading">Verdict</h2>
            <VerdictBadge decision={decision} />
          </div>
          <dl className="details details--wide">
            <Row label="Categories" testId="decision-categories">
              {decision.categories.length === 0
                ? '—'
                : decision.categories.map((code) => (
                    <a key={code} className="tag" href={`#${categoryAnchor(code)}`}>
                      {code}
                    </a>
                  ))}
            </Row>
            <Row label="Score">{formatScore(decision.score)} (P(unsafe))</Row>
            <Row label="Status">{decision.status}</Row>
            <Row label="Policy" testId="decision-policy">
              {decision.policy.slug} v{decision.policy.version}{' '}
              <span className="muted mono" title="sha256 of the policy source">
                {decision.policy.sha256.slice(0, 12)}
              </span>
            </Row>
            <Row label="Target">{decision.target}</Row>
            <Row label="Reasoning">{decision.reasoning_mode}</Row>
            {decision.external_id && <Row label="External id">{decision.external_id}</Row>}
            <Row label="Received">{formatDateTime(decision.created_at)}</Row>
            <Row label="Completed">{formatDateTime(decision.completed_at)}</Row>
            {decision.webhook && <WebhookRow decisionId={decision.id} webhook={decision.webhook} reload={reload} />}
          </dl>
          {decision.content_truncated && (
            <p className="form__hint">The content was over the guard’s token budget and was cut from the middle.</p>
          )}
          {decision.error && (
            <div className="alert alert--error">
              <p className="alert__title">Guard error</p>
              <p className="mono">{decision.error}</p>
            </div>
          )}
        </section>

        <section className="card" aria-labelledby="content-heading">
          <h2 id="content-heading">Content</h2>
          <Messages messages={decision.messages} target={decision.target} testId="decision-content" />
        </section>

        <section className="card" aria-labelledby="trace-heading">
          <h2 id="trace-heading">Reasoning trace</h2>
          <TraceText
            trace={decision.reasoning}
            categories={categories}
            cited={decision.categories}
            linkCategories
            testId="decision-trace"
          />
          <details>
            <summary>Raw model output</summary>
            <pre className="trace trace--raw" data-testid="decision-raw-output">
              {decision.raw_output || '(empty)'}
            </pre>
          </details>
        </section>

        <section className="card" aria-labelledby="categories-heading">
          <h2 id="categories-heading">
            Policy categories in {decision.policy.slug} v{decision.policy.version}
          </h2>
          {versionError !== null && (
            <ErrorMessage title="Could not load this policy version" error={versionError} onRetry={reloadVersion} />
          )}
          {!version && versionError === null && <Loading label="Loading the policy version…" />}
          {version && listed.length === 0 && (
            <p className="muted">The verdict cites no category and the trace names none.</p>
          )}
          {version && listed.length > 0 && (
            <dl className="category-list" data-testid="decision-cited-categories">
              {listed.map(({ category, inVerdict }) => (
                <div key={category.code} id={categoryAnchor(category.code)} className="category-list__item" tabIndex={-1}>
                  <dt>
                    <strong>{category.code}</strong> {category.name}{' '}
                    {inVerdict ? <span className="badge badge--failed">cited</span> : <span className="badge badge--neutral">named in the trace</span>}
                  </dt>
                  <dd>{category.description}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
      </div>

      <aside className="audit__side stack">
        <section className="card" aria-labelledby="model-heading">
          <h2 id="model-heading">Model</h2>
          <dl className="details details--wide" data-testid="decision-model">
            <Row label="Name">{decision.model?.name ?? '—'}</Row>
            <Row label="Version id">{decision.model ? String(decision.model.id) : '—'}</Row>
            <Row label="Template">{decision.template_version || decision.model?.template_version || '—'}</Row>
          </dl>
        </section>

        <section className="card" aria-labelledby="latency-heading">
          <h2 id="latency-heading">Latencies</h2>
          <dl className="details details--wide" data-testid="decision-latencies">
            <Row label="Total">{formatMs(decision.latency_ms)}</Row>
            <Row label="Queued">{formatMs(decision.queue_ms)}</Row>
            <Row label="Inference">{formatMs(decision.inference_ms)}</Row>
          </dl>
        </section>

        <section className="card" aria-labelledby="review-history-heading" data-testid="decision-review-history">
          <h2 id="review-history-heading">Review history</h2>
          {!history && <p className="muted">This decision was not routed to review.</p>}
          {history && (
            <>
              <dl className="details details--wide">
                <Row label="Reason">{history.reason}</Row>
                <Row label="Status">{history.status}</Row>
                <Row label="Queued">{formatDateTime(history.queued_at)}</Row>
                {history.escalated_at && (
                  <Row label="Escalated" testId="review-history-escalated">
                    {formatDateTime(history.escalated_at)}
                    <span className="muted small"> · reviewers disagreed; a further reviewer settles it</span>
                  </Row>
                )}
                {history.done_at && <Row label="Done">{formatDateTime(history.done_at)}</Row>}
                <Row label="Labels" testId="review-history-labels">
                  {labelsGiven(history)} of {history.labels_needed}
                </Row>
              </dl>
              {history.labels.length > 0 && (
                <ol className="history">
                  {history.labels.map((label) => (
                    <li key={label.id} className="history__item" data-testid="review-label">
                      <p>
                        <strong>{label.reviewer}</strong>: {label.verdict}
                        {label.categories.length > 0 && ` · ${label.categories.join(', ')}`}
                      </p>
                      {label.rationale && <p className="history__rationale">{label.rationale}</p>}
                      <p className="muted">{formatDateTime(label.created_at)}</p>
                    </li>
                  ))}
                </ol>
              )}
            </>
          )}
        </section>
      </aside>
    </div>
  );
}
