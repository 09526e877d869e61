import { useEffect, useState } from 'react';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDuration } from '../../lib/format';
import {
  escalationText,
  fetchReviewStats,
  formatOverturns,
  OVERTURN_TEXT,
  pairsText,
  statsSince,
  type GuardVsReview,
  type OutcomeCounts,
  type StatsWindow,
} from '../../lib/review';
import { useResource } from '../../lib/useResource';
import { PeriodSelect } from './PeriodSelect';

/** Queue age, throughput, and over a chosen period the reviewers' agreement with each other and with
 * the guard; reloads whenever `version` changes (after a claim or label). */
export function ReviewStatsPanel({ version }: { version: number }) {
  const [period, setPeriod] = useState<StatsWindow>('30');
  const stats = useResource((signal) => fetchReviewStats(statsSince(period), signal), `review-stats-${period}`);
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
      {data && (
        <>
          <div className="card__header card__header--sub">
            <h3 id="review-outcomes-heading">Finished items</h3>
            <PeriodSelect value={period} onChange={setPeriod} label="Period of the finished items' figures" />
          </div>
          <dl className="stats" aria-labelledby="review-outcomes-heading">
            <div className="stats__item">
              <dt>Agreement (Cohen’s κ)</dt>
              <dd>
                {kappa === null || kappa === undefined ? '—' : kappa.toFixed(2)}
                <span className="muted small">
                  {pairsText(data.agreement.pairs)}
                </span>
              </dd>
            </div>
            <GuardOutcomes outcomes={data.guard_vs_review} />
            {data.escalations && (
              <div className="stats__item stats__item--wide">
                <dt>Escalations (the two reviewers disagreed)</dt>
                <dd data-testid="review-escalations">{escalationText(data.escalations)}</dd>
              </div>
            )}
          </dl>
          <GuardOutcomesByModel outcomes={data.guard_vs_review} />
        </>
      )}
    </section>
  );
}

/** How often reviewers overturned the guard, in all and by why the item was sent to review. */
function GuardOutcomes({ outcomes }: { outcomes: GuardVsReview }) {
  const malformed = outcomes.by_reason.malformed;
  // A malformed output has no guard verdict to compare, so it counts apart: while every finished
  // item is malformed nothing is compared, and what the reviewers found in them is still shown.
  const malformedReviewed = malformed !== undefined && malformed.reviewed > 0;
  return (
    <>
      <div className="stats__item">
        <dt>Guard overturned</dt>
        <dd data-testid="stats-overturned">
          {formatOverturns(outcomes)}
          {outcomes.reviewed === 0 && <span className="muted small">no finished items in this period</span>}
        </dd>
      </div>
      {(outcomes.compared > 0 || malformedReviewed) && (
        <div className="stats__item stats__item--wide">
          <dt>Overturned by reason</dt>
          <dd data-testid="stats-overturned-by-reason">
            {Object.entries(OVERTURN_TEXT)
              .filter(([reason]) => (outcomes.by_reason[reason]?.compared ?? 0) > 0)
              .map(([reason, text]) => (
                <span key={reason} className="tag">
                  {text}: {formatOverturns(outcomes.by_reason[reason])}
                </span>
              ))}
            {malformedReviewed && (
              <span className="tag" data-testid="stats-malformed">
                Malformed outputs the reviewers judged unsafe: {malformed.reviewer_unsafe} of {malformed.reviewed}
              </span>
            )}
          </dd>
        </div>
      )}
    </>
  );
}

/** The same per model version, so a newly promoted model's overturns can be told from its
 * predecessor's; and per policy, where more than one was reviewed. */
function GuardOutcomesByModel({ outcomes }: { outcomes: GuardVsReview }) {
  const models = outcomes.by_model.map((m) => ({ key: String(m.id ?? 'none'), name: m.name ?? 'no model', counts: m }));
  const policies = outcomes.by_policy.map((p) => ({ key: p.slug, name: p.slug, counts: p }));
  return (
    <>
      {models.length > 0 && <OverturnTable label="Overturns by model" heading="Model" rows={models} />}
      {policies.length > 1 && <OverturnTable label="Overturns by policy" heading="Policy" rows={policies} />}
    </>
  );
}

function OverturnTable({
  label,
  heading,
  rows,
}: {
  label: string;
  heading: string;
  rows: { key: string; name: string; counts: OutcomeCounts }[];
}) {
  return (
    <table className="table" aria-label={label}>
      <thead>
        <tr>
          <th scope="col">{heading}</th>
          <th scope="col">Reviewed</th>
          <th scope="col">Overturned</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key}>
            <th scope="row">{row.name}</th>
            <td>{row.counts.reviewed}</td>
            <td>{formatOverturns(row.counts)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
