import { useState } from 'react';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDuration } from '../../lib/format';
import {
  agreementText,
  fetchReviewerStats,
  percentText,
  statsSince,
  upheldText,
  type StatsWindow,
} from '../../lib/review';
import { useResource } from '../../lib/useResource';
import { PeriodSelect } from './PeriodSelect';

/** What the columns that compare a reviewer's labels with someone else's mean, one sentence each. */
const HELP = {
  guard: 'Labels whose verdict matched the guard’s, of those with a guard verdict (a malformed output has none).',
  second: 'Labels that matched a second, independent reviewer’s label on the same item (verdict and categories), of those that had one.',
  upheld: 'Of this reviewer’s disagreements with another that a third reviewer has settled: how many went their way, and how many the other way.',
} as const;

/** Each reviewer's figures over a chosen period (a superuser sees every reviewer, anyone else their
 * own). Loaded on its own, on opening, a period change and Refresh, not after every label. */
export function ReviewerStatsPanel({ isSuperuser }: { isSuperuser: boolean }) {
  const [period, setPeriod] = useState<StatsWindow>('30');
  const figures = useResource(
    (signal) => fetchReviewerStats(statsSince(period), signal).then((rows) => ({ period, rows })),
    `reviewer-stats-${period}`,
  );
  const { reload } = figures;
  // Another period's figures are never shown under this one, while it loads or if it fails.
  const rows = figures.data?.period === period ? figures.data.rows : null;
  const whose = isSuperuser ? 'the reviewers’ figures' : 'your figures';

  return (
    <section
      className="card"
      aria-labelledby="reviewer-stats-heading"
      aria-busy={figures.loading}
      data-testid="reviewer-stats"
    >
      <div className="card__header card__header--wrap">
        <h2 id="reviewer-stats-heading">{isSuperuser ? 'Reviewers' : 'Your figures'}</h2>
        <div className="card__actions">
          <PeriodSelect
            value={period}
            onChange={setPeriod}
            label="Period of the reviewer figures"
            testId="reviewer-stats-period"
          />
          <button
            type="button"
            className="button button--secondary button--small"
            onClick={reload}
            disabled={figures.loading}
          >
            Refresh
          </button>
        </div>
      </div>
      {figures.error !== null && (
        <ErrorMessage title={`Could not load ${whose}`} error={figures.error} onRetry={reload} />
      )}
      {!rows && figures.loading && <Loading label={`Loading ${whose}…`} />}
      {rows && rows.length === 0 && (
        <p className="muted" data-testid="reviewer-stats-empty">
          No labels in this period.
        </p>
      )}
      {rows && rows.length > 0 && (
        <>
          <div className="table-scroll">
            <table className="table table--compact table--numbers table--nowrap" data-testid="reviewer-table">
              <caption className="visually-hidden">
                {isSuperuser ? 'Each reviewer’s labels in the period, busiest first' : 'Your labels in the period'}
              </caption>
              <thead>
                <tr>
                  <th scope="col">Reviewer</th>
                  <th scope="col">Labels</th>
                  <th scope="col" title="Share of the labels that said unsafe">
                    Unsafe
                  </th>
                  <th scope="col" title="Mean time from claiming an item to labelling it">
                    Time per label
                  </th>
                  <th scope="col" title={HELP.guard}>
                    Agrees with guard
                  </th>
                  <th scope="col" title={HELP.second}>
                    Agrees with second reviewer
                  </th>
                  <th scope="col" title="Disagreements between two reviewers that this reviewer’s label settled">
                    Escalations settled
                  </th>
                  <th scope="col" title={HELP.upheld}>
                    Upheld / overruled
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.reviewer.id} data-testid="reviewer-row">
                    <th scope="row">{row.reviewer.username}</th>
                    <td>{row.labels}</td>
                    <td>{percentText(row.unsafe_rate)}</td>
                    <td>{formatDuration(row.mean_handle_s)}</td>
                    <td title={`${row.guard.agreed} of ${row.guard.compared} agreed`}>
                      {agreementText(row.guard.agreement_rate, row.guard.compared)}
                    </td>
                    <td title={`${row.second_opinions.agreed} of ${row.second_opinions.paired} agreed`}>
                      {agreementText(row.second_opinions.agreement_rate, row.second_opinions.paired)}
                    </td>
                    <td>{row.escalations.settled}</td>
                    <td>{upheldText(row.escalations)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ul className="table-notes muted small" data-testid="reviewer-stats-help">
            <li>
              <strong>Agrees with guard:</strong> {HELP.guard}
            </li>
            <li>
              <strong>Agrees with second reviewer:</strong> {HELP.second}
            </li>
            <li>
              <strong>Upheld / overruled:</strong> {HELP.upheld}
            </li>
          </ul>
        </>
      )}
    </section>
  );
}
