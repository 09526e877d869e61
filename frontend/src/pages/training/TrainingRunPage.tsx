import { useEffect } from 'react';
import { Link, useParams } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDateTime, formatDelta, formatDuration } from '../../lib/format';
import {
  evalComparison,
  fetchTrainingRun,
  gateOf,
  hasEvaluation,
  isRunActive,
  runCharts,
  type TrainingRun,
} from '../../lib/training';
import { useInterval, useResource } from '../../lib/useResource';
import { LineChart } from './LineChart';
import { RunStatusBadge } from './RunStatusBadge';

export function TrainingRunPage() {
  const { id = '' } = useParams();
  const run = useResource((signal) => fetchTrainingRun(id, signal), id);
  useInterval(run.reload, 3000, run.data !== null && isRunActive(run.data) && run.error === null);

  useEffect(() => {
    document.title = `Training run ${id} · Arbiter`;
  }, [id]);

  return (
    <div className="stack">
      <p>
        <Link to="/training">← Training runs</Link>
      </p>
      <div className="page__heading">
        <h1>Training run #{id}</h1>
        {run.data && <RunStatusBadge status={run.data.status} />}
      </div>
      {run.error !== null && <ErrorMessage title="Could not load the training run" error={run.error} onRetry={run.reload} />}
      {!run.data && run.loading && <Loading label="Loading the training run…" />}
      {run.data && <RunBody run={run.data} />}
    </div>
  );
}

function RunBody({ run }: { run: TrainingRun }) {
  const charts = runCharts(run.steps);
  const before = hasEvaluation(run.eval_before) ? run.eval_before : null;
  const after = hasEvaluation(run.eval_after) ? run.eval_after : null;
  const rows = evalComparison(before, after);
  const gate = gateOf(run);
  const dataset = run.dataset && Object.keys(run.dataset).length > 0 ? run.dataset : null;
  return (
    <>
      <section className="card" aria-labelledby="run-summary">
        <h2 id="run-summary">Summary</h2>
        <dl className="details details--wide details--columns">
          <div className="details__row">
            <dt>Trigger</dt>
            <dd>
              {run.trigger}
              {run.requested_by && ` by ${run.requested_by}`}
            </dd>
          </div>
          <div className="details__row">
            <dt>Created</dt>
            <dd>{formatDateTime(run.created_at)}</dd>
          </div>
          <div className="details__row">
            <dt>Finished</dt>
            <dd>{formatDateTime(run.finished_at)}</dd>
          </div>
          <div className="details__row">
            <dt>Duration</dt>
            <dd>{formatDuration(run.duration_s)}</dd>
          </div>
          <div className="details__row">
            <dt>Data</dt>
            <dd>
              {dataset
                ? `${dataset.train ?? 0} train (${dataset.new_cases ?? 0} new, ${dataset.replay_cases ?? 0} replayed) · ${dataset.eval ?? 0} eval`
                : '—'}
            </dd>
          </div>
          <div className="details__row">
            <dt>SFT warm-up</dt>
            <dd>{run.sft_ran ? 'ran' : 'no'}</dd>
          </div>
          <div className="details__row">
            <dt>Gate</dt>
            <dd data-testid="run-gate">
              {gate ? `${gate.promoted ? 'Promoted' : 'Not promoted'}: ${gate.reason}` : '—'}
            </dd>
          </div>
          <div className="details__row">
            <dt>Candidate</dt>
            <dd>{run.candidate !== null ? <Link to="/models">model #{run.candidate}</Link> : '—'}</dd>
          </div>
        </dl>
        {run.error && (
          <div className="alert alert--error">
            <p className="alert__title">The run failed</p>
            <p className="mono">{run.error}</p>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="run-curves">
        <h2 id="run-curves">Curves</h2>
        <div className="charts">
          <LineChart title="Reward (mean per step)" series={charts.reward} band={charts.rewardBand} testId="chart-reward" />
          <LineChart title="Accuracy and format" series={charts.accuracy} fixedY={[0, 1]} testId="chart-accuracy" />
        </div>
      </section>

      <section className="card" aria-labelledby="run-eval">
        <h2 id="run-eval">Evaluation before and after</h2>
        {!before && !after ? (
          <p className="muted">No evaluation yet.</p>
        ) : (
          <table className="table table--compact table--numbers" data-testid="eval-table">
            <caption className="visually-hidden">Held-out evaluation of the model before and after training</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col">Before</th>
                <th scope="col">After</th>
                <th scope="col">Change</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.metric}>
                  <th scope="row">{row.label}</th>
                  <td>{row.before === null ? '—' : row.before.toFixed(3)}</td>
                  <td>{row.after === null ? '—' : row.after.toFixed(3)}</td>
                  <td className={row.better === null ? '' : row.better ? 'delta--up' : 'delta--down'}>
                    {formatDelta(row.delta)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {(Object.keys(run.config).length > 0 || run.logs) && (
        <section className="card" aria-labelledby="run-details">
          <h2 id="run-details">Configuration and logs</h2>
          {Object.keys(run.config).length > 0 && (
            <details>
              <summary>Configuration</summary>
              <pre className="trace">{JSON.stringify(run.config, null, 2)}</pre>
            </details>
          )}
          {run.logs && (
            <details>
              <summary>Logs</summary>
              <pre className="trace trace--raw">{run.logs}</pre>
            </details>
          )}
        </section>
      )}
    </>
  );
}
