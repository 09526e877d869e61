import { useEffect } from 'react';
import { Link } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { loadDraft } from './drafts';
import { when } from './format';
import { policyApi } from './policyApi';

export function PolicyListPage() {
  const policies = useResource(() => policyApi.list(), 'policies', { keepErrorWhileLoading: true });

  useEffect(() => {
    document.title = 'Policies · Arbiter';
  }, []);

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Policies</h1>
        <div className="page__actions">
          <button type="button" className="button button--secondary" onClick={policies.reload} disabled={policies.loading}>
            Refresh
          </button>
        </div>
      </div>
      <section className="card" aria-labelledby="policies-heading" aria-busy={policies.loading}>
        <h2 id="policies-heading" className="visually-hidden">
          All policies
        </h2>
        {policies.error !== null && (
          <ErrorMessage title="Could not load the policies" error={policies.error} onRetry={policies.reload} />
        )}
        {!policies.data && policies.loading && <Loading label="Loading policies…" />}
        {policies.data && (
          <div className="table-scroll">
            <table className="table" data-testid="policy-list">
              <thead>
                <tr>
                  <th scope="col">Policy</th>
                  <th scope="col">Published</th>
                  <th scope="col">Latest</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {policies.data.length === 0 && (
                  <tr>
                    <td colSpan={4} className="muted">
                      No policies yet. Push one with <code>manage.py policy push</code>.
                    </td>
                  </tr>
                )}
                {policies.data.map((policy) => (
                  <tr key={policy.slug}>
                    <th scope="row">
                      <Link to={`/policies/${policy.slug}`}>{policy.title}</Link>
                      <div className="muted mono">{policy.slug}</div>
                      {loadDraft(policy.slug) && <span className="tag">Unsaved draft</span>}
                    </th>
                    <td>{policy.published_version ? `v${policy.published_version}` : <span className="muted">none</span>}</td>
                    <td>{policy.latest_version ? `v${policy.latest_version}` : '–'}</td>
                    <td>{when(policy.created_at)}</td>
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
