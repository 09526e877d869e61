import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDateTime, formatDuration } from '../../lib/format';
import { fetchTrainingRuns, gateOf, isRunActive, startTrainingRun, type Evaluation } from '../../lib/training';
import { useInterval, useResource } from '../../lib/useResource';
import { RunStatusBadge } from './RunStatusBadge';

function f1(evaluation: Evaluation | null): string {
  return typeof evaluation?.f1 === 'number' ? evaluation.f1.toFixed(3) : '—';
}

function gateLabel(gate: { promoted: boolean } | null): string {
  if (!gate) return '—';
  return gate.promoted ? 'promoted' : 'kept the old model';
}

export function TrainingPage() {
  const runs = useResource((signal) => fetchTrainingRuns(signal), 'training-runs');
  const navigate = useNavigate();
  const [steps, setSteps] = useState('');
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<unknown>(null);
  const list = runs.data?.results ?? [];
  const running = list.some(isRunActive);
  useInterval(runs.reload, 3000, running && runs.error === null);

  useEffect(() => {
    document.title = 'Training runs · Arbiter';
  }, []);

  const stepsProblem = steps.trim() && !/^[1-9]\d*$/.test(steps.trim()) ? 'Steps is a whole number from 1.' : null;

  async function start(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (stepsProblem) return;
    setStarting(true);
    setStartError(null);
    try {
      const run = await startTrainingRun(steps.trim() ? Number(steps.trim()) : null);
      navigate(`/training/${run.id}`);
    } catch (error) {
      setStartError(error);
      setStarting(false);
    }
  }

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Training runs</h1>
        <div className="page__actions">
          <Link to="/models">Models</Link>
        </div>
      </div>

      <form className="card form form--inline" onSubmit={start} aria-labelledby="start-heading">
        <h2 id="start-heading">Start a run</h2>
        <p className="muted">
          GRPO fine-tuning of the active model on the reviewed cases, evaluated on the held-out cases before and after.
          The new model is promoted only when it is better.
        </p>
        <div className="form__row">
          <div className="form__field">
            <label htmlFor="training-steps">Steps</label>
            <input
              id="training-steps"
              type="text"
              inputMode="numeric"
              placeholder="default"
              value={steps}
              onChange={(event) => setSteps(event.target.value)}
              aria-invalid={stepsProblem ? true : undefined}
              aria-describedby={stepsProblem ? 'training-steps-error' : undefined}
            />
          </div>
          <button type="submit" className="button button--primary" disabled={starting || running} data-testid="start-training">
            {starting ? 'Starting…' : 'Start training'}
          </button>
        </div>
        {stepsProblem && (
          <p id="training-steps-error" className="form__error">
            {stepsProblem}
          </p>
        )}
        {running && <p className="form__hint">A run is in progress; the next can start when it ends.</p>}
        {startError !== null && <ErrorMessage title="Could not start a training run" error={startError} />}
      </form>

      <section className="card" aria-labelledby="runs-heading" aria-busy={runs.loading}>
        <div className="card__header">
          <h2 id="runs-heading">Runs</h2>
          <button type="button" className="button button--secondary button--small" onClick={runs.reload} disabled={runs.loading}>
            Refresh
          </button>
        </div>
        {runs.error !== null && <ErrorMessage title="Could not load the training runs" error={runs.error} onRetry={runs.reload} />}
        {runs.loading && !runs.data && <Loading label="Loading training runs…" />}
        {runs.data && list.length === 0 && <p className="muted">No training run yet.</p>}
        {list.length > 0 && (
          <div className="table-scroll">
            <table className="table table--compact" data-testid="runs-table">
              <caption className="visually-hidden">Training runs, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Data</th>
                  <th scope="col">F1 before → after</th>
                  <th scope="col">Gate</th>
                  <th scope="col">Started</th>
                  <th scope="col">Duration</th>
                </tr>
              </thead>
              <tbody>
                {list.map((run) => (
                  <tr key={run.id} data-testid="run-row">
                    <td>
                      <Link to={`/training/${run.id}`}>#{run.id}</Link>
                    </td>
                    <td>
                      <RunStatusBadge status={run.status} />
                    </td>
                    <td>
                      {run.trigger}
                      {run.requested_by && <span className="muted"> by {run.requested_by}</span>}
                    </td>
                    <td className="small">
                      {run.dataset && Object.keys(run.dataset).length > 0
                        ? `${run.dataset.train ?? 0} train · ${run.dataset.eval ?? 0} eval`
                        : '—'}
                    </td>
                    <td>
                      {f1(run.eval_before)} → {f1(run.eval_after)}
                    </td>
                    <td>{gateLabel(gateOf(run))}</td>
                    <td className="small">{formatDateTime(run.started_at ?? run.created_at)}</td>
                    <td>{formatDuration(run.duration_s)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
