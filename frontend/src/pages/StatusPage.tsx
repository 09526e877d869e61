import { useCallback, useEffect, useRef, useState } from 'react';

import { fetchReadiness, type Readiness } from '../api';
import { useAuth } from '../auth';
import { ErrorMessage, Loading } from '../components/Feedback';
import { checkDetails, humanize, roleLabel } from '../status';

interface ReadinessState {
  data: Readiness | null;
  error: unknown;
  loading: boolean;
  checkedAt: Date | null;
}

function useReadiness() {
  const [state, setState] = useState<ReadinessState>({ data: null, error: null, loading: true, checkedAt: null });
  const controller = useRef<AbortController | null>(null);

  const refresh = useCallback(() => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    setState((previous) => ({ ...previous, loading: true }));
    fetchReadiness(undefined, current.signal).then(
      (data) => {
        if (!current.signal.aborted) setState({ data, error: null, loading: false, checkedAt: new Date() });
      },
      (error: unknown) => {
        if (!current.signal.aborted) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
  }, []);

  useEffect(() => {
    refresh();
    return () => controller.current?.abort();
  }, [refresh]);

  return { ...state, refresh };
}

export function StatusPage() {
  const { user } = useAuth();
  const { data, error, loading, checkedAt, refresh } = useReadiness();

  useEffect(() => {
    document.title = 'System status · Arbiter';
  }, []);

  const checks = data ? Object.entries(data.checks) : [];
  const ready = data?.status === 'ok';

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>System status</h1>
        <div className="page__actions">
          {checkedAt && (
            <span className="muted">
              Checked at <time dateTime={checkedAt.toISOString()}>{checkedAt.toLocaleTimeString()}</time>
            </span>
          )}
          <button type="button" className="button button--secondary" onClick={refresh} disabled={loading} data-testid="status-refresh">
            {loading && data ? 'Refreshing…' : 'Refresh'}
          </button>
        </div>
      </div>

      <section className="card" aria-labelledby="readiness-heading" aria-busy={loading}>
        <div className="card__header">
          <h2 id="readiness-heading">Readiness</h2>
          {data && (
            <span className={`badge ${ready ? 'badge--ok' : 'badge--failed'}`} data-testid="status-overall">
              {ready ? 'All systems ready' : 'Unavailable'}
            </span>
          )}
        </div>

        {error !== null && <ErrorMessage title="Could not load the system status" error={error} onRetry={refresh} />}
        {!data && loading && <Loading label="Checking the system…" />}

        {data && (
          <table className="table">
            <caption className="visually-hidden">Readiness checks</caption>
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col">State</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {checks.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    The server reported no checks.
                  </td>
                </tr>
              )}
              {checks.map(([name, check]) => (
                <tr key={name} data-testid={`check-${name}`} data-ok={check.ok ? 'true' : 'false'}>
                  <th scope="row">{humanize(name)}</th>
                  <td>
                    <span className={`badge ${check.ok ? 'badge--ok' : 'badge--failed'}`}>{check.ok ? 'OK' : 'Failed'}</span>
                  </td>
                  <td>
                    <dl className="details">
                      {checkDetails(check).map((detail) => (
                        <div key={detail.label} className={detail.label === 'Error' ? 'details__row details__row--error' : 'details__row'}>
                          <dt>{detail.label}</dt>
                          <dd>{detail.value}</dd>
                        </div>
                      ))}
                    </dl>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card" aria-labelledby="account-heading">
        <div className="card__header">
          <h2 id="account-heading">Your account</h2>
        </div>
        {user && (
          <dl className="details details--wide">
            <div className="details__row">
              <dt>Username</dt>
              <dd>{user.username}</dd>
            </div>
            {user.email && (
              <div className="details__row">
                <dt>Email</dt>
                <dd>{user.email}</dd>
              </div>
            )}
            <div className="details__row">
              <dt>Roles</dt>
              <dd data-testid="user-roles">
                {user.is_superuser && <span className="tag tag--strong">Superuser (every role)</span>}
                {user.roles.map((role) => (
                  <span key={role} className="tag">
                    {roleLabel(role)}
                  </span>
                ))}
                {!user.is_superuser && user.roles.length === 0 && <span className="muted">No roles assigned</span>}
              </dd>
            </div>
          </dl>
        )}
      </section>
    </div>
  );
}
