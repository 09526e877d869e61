import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { formatDateTime } from '../../lib/format';
import { activateModel, activationKind, fetchModels, metricEntries, type ModelVersion } from '../../lib/training';
import { useResource } from '../../lib/useResource';

function statusBadge(status: string) {
  const kind = status === 'active' ? 'badge--ok' : status === 'candidate' ? 'badge--neutral' : 'badge--muted';
  return <span className={`badge ${kind}`}>{status}</span>;
}

function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

export function ModelsPage() {
  const models = useResource((signal) => fetchModels(signal), 'models');
  const [confirming, setConfirming] = useState<ModelVersion | null>(null);
  const [activating, setActivating] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'Models · Arbiter';
  }, []);

  const list = models.data?.results ?? [];
  const active = list.find((model) => model.status === 'active');
  const names = new Map(list.map((model) => [model.id, model.name]));

  async function activate(model: ModelVersion) {
    setActivating(true);
    setActionError(null);
    try {
      const updated = await activateModel(model.id);
      setDone(`${updated.name} is now the active model. Guard workers load it for new requests.`);
      setConfirming(null);
      models.reload();
    } catch (error) {
      setActionError(error);
    } finally {
      setActivating(false);
    }
  }

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Models</h1>
        <div className="page__actions">
          <Link to="/training">Training runs</Link>
          <button type="button" className="button button--secondary" onClick={models.reload} disabled={models.loading}>
            Refresh
          </button>
        </div>
      </div>
      {done && (
        <p className="alert alert--ok" role="status">
          {done}
        </p>
      )}

      {confirming && (
        <section className="card card--confirm" role="dialog" aria-labelledby="confirm-heading" aria-modal="false">
          <h2 id="confirm-heading">
            {activationKind(confirming, active) === 'rollback' ? 'Roll back to' : 'Activate'} {confirming.name}?
          </h2>
          <p>
            {active ? (
              <>
                It replaces <strong>{active.name}</strong> as the model that judges new requests.
              </>
            ) : (
              'It becomes the model that judges new requests.'
            )}{' '}
            Decisions already made keep the model that made them.
          </p>
          {actionError !== null && <ErrorMessage title="Could not activate the model" error={actionError} />}
          <div className="form__buttons">
            <button
              type="button"
              className="button button--primary"
              onClick={() => void activate(confirming)}
              disabled={activating}
              data-testid="confirm-activate"
              autoFocus
            >
              {activating ? 'Activating…' : activationKind(confirming, active) === 'rollback' ? 'Roll back' : 'Activate'}
            </button>
            <button
              type="button"
              className="button button--secondary"
              onClick={() => {
                setConfirming(null);
                setActionError(null);
              }}
              disabled={activating}
            >
              Cancel
            </button>
          </div>
        </section>
      )}

      <section className="card" aria-labelledby="models-heading" aria-busy={models.loading}>
        <div className="card__header">
          <h2 id="models-heading">Model versions</h2>
          {active && (
            <span className="muted">
              Active: <strong>{active.name}</strong>
            </span>
          )}
        </div>
        {models.error !== null && <ErrorMessage title="Could not load the models" error={models.error} onRetry={models.reload} />}
        {models.loading && !models.data && <Loading label="Loading models…" />}
        {models.data && list.length === 0 && <p className="muted">No model is registered yet.</p>}
        {list.length > 0 && (
          <div className="table-scroll">
            <table className="table table--compact" data-testid="models-table">
              <caption className="visually-hidden">Model versions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Status</th>
                  <th scope="col">Metrics</th>
                  <th scope="col">Lineage</th>
                  <th scope="col">Dates</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((model) => {
                  const metrics = metricEntries(model.metrics);
                  return (
                    <tr key={model.id} data-testid="model-row" data-model-name={model.name}>
                      <th scope="row">
                        {model.name}
                        <p className="muted small">
                          {model.source} · {model.base} · template {model.template_version}
                        </p>
                      </th>
                      <td>{statusBadge(model.status)}</td>
                      <td>
                        {metrics.length === 0 ? (
                          <span className="muted">—</span>
                        ) : (
                          <dl className="metrics">
                            {metrics.map((metric) => (
                              <div key={metric.name}>
                                <dt>{metric.name}</dt>
                                <dd>{formatMetric(metric.value)}</dd>
                              </div>
                            ))}
                          </dl>
                        )}
                      </td>
                      <td>
                        {model.parent !== null && <p className="small">from {names.get(model.parent) ?? `#${model.parent}`}</p>}
                        {model.training_run !== null && (
                          <Link className="small" to={`/training/${model.training_run}`}>
                            Training run #{model.training_run}
                          </Link>
                        )}
                        {model.parent === null && model.training_run === null && <span className="muted">—</span>}
                      </td>
                      <td className="small">
                        <p>Created {formatDateTime(model.created_at)}</p>
                        {model.activated_at && (
                          <p>
                            Activated {formatDateTime(model.activated_at)}
                            {model.activated_by && ` by ${model.activated_by}`}
                          </p>
                        )}
                      </td>
                      <td>
                        {model.status !== 'active' && (
                          <button
                            type="button"
                            className="button button--secondary button--small"
                            onClick={() => {
                              setDone(null);
                              setActionError(null);
                              setConfirming(model);
                            }}
                            data-testid={`activate-${model.id}`}
                          >
                            {activationKind(model, active) === 'rollback' ? 'Roll back to this' : 'Activate'}
                          </button>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}
