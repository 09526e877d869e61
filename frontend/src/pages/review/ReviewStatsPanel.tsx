import { useEffect } from 'react';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDuration } from '../../lib/format';
import { fetchReviewStats } from '../../lib/review';
import { useResource } from '../../lib/useResource';

/** Queue age, throughput and agreement; reloads whenever `version` changes (after a claim or label). */
export function ReviewStatsPanel({ version }: { version: number }) {
  const stats = useResource((signal) => fetchReviewStats(signal), 'review-stats');
  const { reload } = stats;
  useEffect(() => {
    if (version > 0) reload();
  }, [version, reload]);

  const data = stats.data;
  const kappa = data?.agreement.cohen_kappa;
  return (
    <section className="card" aria-labelledby="review-stats-heading" aria-busy={stats.loading} data-testid="review-stats">
      <div className="card__header">
        <h2 id="review-stats-heading">Queue</h2>
        <button type="button" className="button button--secondary button--small" onClick={reload} disabled={stats.loading}>
          Refresh
        </button>
      </div>
      {stats.error !== null && <ErrorMessage title="Could not load the queue's statistics" error={stats.error} onRetry={reload} />}
      {!data && stats.loading && <Loading label="Loading the queue's statistics…" />}
      {data && (
        <dl className="stats">
          <div className="stats__item">
            <dt>Open</dt>
            <dd data-testid="stats-open">{data.open}</dd>
          </div>
          <div className="stats__item">
            <dt>Claimed</dt>
            <dd>{data.claimed}</dd>
          </div>
          <div className="stats__item">
            <dt>Oldest open item</dt>
            <dd>{data.oldest_open_age_s === null ? 'none' : formatDuration(data.oldest_open_age_s)}</dd>
          </div>
          <div className="stats__item">
            <dt>Labels, last hour / day</dt>
            <dd data-testid="stats-throughput">
              {data.labels_last_hour} / {data.labels_last_day}
            </dd>
          </div>
          <div className="stats__item">
            <dt>Done</dt>
            <dd>{data.done}</dd>
          </div>
          <div className="stats__item">
            <dt>Agreement (Cohen’s κ)</dt>
            <dd>
              {kappa === null || kappa === undefined ? '—' : kappa.toFixed(2)}
              <span className="muted small">
                {data.agreement.pairs === 0 ? 'no double-labelled items yet' : `${data.agreement.pairs} pairs`}
              </span>
            </dd>
          </div>
          {Object.keys(data.by_reason).length > 0 && (
            <div className="stats__item stats__item--wide">
              <dt>Open by reason</dt>
              <dd>
                {Object.entries(data.by_reason).map(([reason, count]) => (
                  <span key={reason} className="tag">
                    {reason}: {count}
                  </span>
                ))}
              </dd>
            </div>
          )}
        </dl>
      )}
    </section>
  );
}
