import { useEffect, useState } from 'react';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { percent, when } from './format';
import { policyApi, type JobStatus, type PolicyBacktest, type PolicyTestRun, type PolicyVersion } from './policyApi';
import { VersionOptions } from './VersionOptions';

const POLL_MS = 2000;
const active = (status: JobStatus | undefined) => status === 'queued' || status === 'running';
const newest = <T extends { id: number }>(items: T[] | null): T | null =>
  items && items.length ? items.reduce((a, b) => (b.id > a.id ? b : a)) : null;

function StatusBadge({ status }: { status: JobStatus }) {
  const tone = status === 'completed' ? 'badge--ok' : status === 'error' ? 'badge--failed' : 'badge--info';
  return <span className={`badge ${tone}`}>{status}</span>;
}

function TestRunView({ run }: { run: PolicyTestRun }) {
  return (
    <div className="stack stack--tight" data-testid="test-run">
      <p>
        <StatusBadge status={run.status} />{' '}
        {run.status === 'completed' && (
          <>
            <span className={`badge ${run.passed ? 'badge--ok' : 'badge--failed'}`}>{run.passed ? 'Passed' : 'Failed'}</span>{' '}
            {run.passed_count}/{run.total} passed ({percent(run.pass_rate)}; the gate needs {percent(run.required_pass_rate)})
          </>
        )}
        <span className="muted">
          {' '}
          · run {run.id}, {when(run.created_at)}
          {run.model_name && ` · model ${run.model_name}`}
        </span>
      </p>
      {run.error && <p className="alert alert--error">{run.error}</p>}
      {run.results.length > 0 && (
        <table className="table table--compact">
          <thead>
            <tr>
              <th scope="col">Test</th>
              <th scope="col">Expected</th>
              <th scope="col">Got</th>
              <th scope="col">Score</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {[...run.results]
              .sort((a, b) => a.index - b.index)
              .map((result) => (
                <tr key={result.index} data-passed={result.passed ? 'true' : 'false'}>
                  <th scope="row">
                    {result.name || result.input}
                    {result.name && <div className="muted">{result.input}</div>}
                  </th>
                  <td>
                    {result.expected}
                    {result.expected_categories.length > 0 && ` (${result.expected_categories.join(', ')})`}
                  </td>
                  <td>
                    {result.got}
                    {result.categories.length > 0 && ` (${result.categories.join(', ')})`}
                  </td>
                  <td>{result.score === null ? '–' : result.score.toFixed(2)}</td>
                  <td>
                    <span className={`badge ${result.passed ? 'badge--ok' : 'badge--failed'}`}>{result.passed ? 'Pass' : 'Fail'}</span>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const METRICS = ['precision', 'recall', 'f1', 'accuracy'] as const;

function BacktestView({ backtest }: { backtest: PolicyBacktest }) {
  return (
    <div className="stack stack--tight" data-testid="backtest">
      <p>
        <StatusBadge status={backtest.status} />
        <span className="muted">
          {' '}
          · backtest {backtest.id}, {when(backtest.created_at)} · {backtest.cases_total} cases
        </span>
      </p>
      {backtest.error && <p className="alert alert--error">{backtest.error}</p>}
      {backtest.status === 'completed' && (
        <table className="table table--compact">
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Version {backtest.version}</th>
              {backtest.baseline_version !== null && <th scope="col">Published v{backtest.baseline_version}</th>}
            </tr>
          </thead>
          <tbody>
            {METRICS.map((name) => (
              <tr key={name}>
                <th scope="row">{name === 'f1' ? 'F1' : name[0].toUpperCase() + name.slice(1)}</th>
                <td>{percent(backtest.metrics[name] as number | undefined)}</td>
                {backtest.baseline_version !== null && <td>{percent(backtest.baseline_metrics[name] as number | undefined)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {backtest.status === 'completed' && backtest.baseline_version !== null && (
        <p>{backtest.flips.length} decision{backtest.flips.length === 1 ? '' : 's'} would flip.</p>
      )}
    </div>
  );
}

export function TestsTab({ slug, versions }: { slug: string; versions: PolicyVersion[] }) {
  const [number, setNumber] = useState(versions[0]?.number ?? 1);
  const key = `${slug}@${number}`;
  const runs = useResource(() => policyApi.testRuns(slug, number), key, { keepErrorWhileLoading: true });
  const backtests = useResource(() => policyApi.backtests(slug, number), key, { keepErrorWhileLoading: true });
  const [starting, setStarting] = useState<'tests' | 'backtest' | null>(null);
  const [startError, setStartError] = useState<unknown>(null);
  const run = newest(runs.data);
  const backtest = newest(backtests.data);
  const { reload: reloadRuns } = runs;
  const { reload: reloadBacktests } = backtests;

  // Poll while a job is queued or running, so its results appear without a manual refresh.
  const polling = active(run?.status) || active(backtest?.status);
  useEffect(() => {
    if (!polling) return;
    const timer = setTimeout(() => {
      reloadRuns();
      reloadBacktests();
    }, POLL_MS);
    return () => clearTimeout(timer);
  }, [polling, runs.data, backtests.data, reloadRuns, reloadBacktests]);

  async function start(kind: 'tests' | 'backtest') {
    setStarting(kind);
    setStartError(null);
    try {
      if (kind === 'tests') {
        await policyApi.startTestRun(slug, number);
        reloadRuns();
      } else {
        await policyApi.startBacktest(slug, number, null);
        reloadBacktests();
      }
    } catch (error) {
      setStartError(error);
    } finally {
      setStarting(null);
    }
  }

  return (
    <div className="stack">
      <div className="compare">
        <label htmlFor="tests-version">Version</label>
        <select id="tests-version" value={number} onChange={(event) => setNumber(Number(event.target.value))}>
          <VersionOptions versions={versions} />
        </select>
      </div>
      {startError !== null && <ErrorMessage title="Could not start the job" error={startError} />}
      <section className="card" aria-labelledby="test-run-heading" aria-busy={runs.loading}>
        <div className="card__header">
          <h2 id="test-run-heading">Latest policy-test run</h2>
          <button type="button" className="button button--secondary button--small" onClick={() => void start('tests')} disabled={starting !== null}>
            {starting === 'tests' ? 'Starting…' : 'Run tests'}
          </button>
        </div>
        {runs.error !== null && <ErrorMessage title="Could not load the test runs" error={runs.error} onRetry={runs.reload} />}
        {runs.loading && !runs.data && <Loading label="Loading test runs…" />}
        {runs.data && !run && <p className="muted">This version's tests have not been run yet.</p>}
        {run && <TestRunView run={run} />}
      </section>
      <section className="card" aria-labelledby="backtest-heading" aria-busy={backtests.loading}>
        <div className="card__header">
          <h2 id="backtest-heading">Latest backtest</h2>
          <button type="button" className="button button--secondary button--small" onClick={() => void start('backtest')} disabled={starting !== null}>
            {starting === 'backtest' ? 'Starting…' : 'Run backtest'}
          </button>
        </div>
        {backtests.error !== null && (
          <ErrorMessage title="Could not load the backtests" error={backtests.error} onRetry={backtests.reload} />
        )}
        {backtests.loading && !backtests.data && <Loading label="Loading backtests…" />}
        {backtests.data && !backtest && <p className="muted">No backtest of this version yet.</p>}
        {backtest && <BacktestView backtest={backtest} />}
      </section>
    </div>
  );
}
