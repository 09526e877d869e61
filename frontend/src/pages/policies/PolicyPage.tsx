import { lazy, Suspense, useEffect } from 'react';
import { Link, NavLink, Route, Routes, useParams } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { AuditTab } from './AuditTab';
import { DiffTab } from './DiffTab';
import { HistoryTab } from './HistoryTab';
import { policyApi } from './policyApi';
import { TestsTab } from './TestsTab';

// The editor brings CodeMirror and the schema validator: load them only when the editor opens.
const EditorTab = lazy(() => import('./EditorTab').then((module) => ({ default: module.EditorTab })));

const TABS = [
  { to: '', label: 'Editor' },
  { to: 'history', label: 'History' },
  { to: 'diff', label: 'Diff' },
  { to: 'audit', label: 'Audit' },
  { to: 'tests', label: 'Tests' },
];

export function PolicyPage() {
  const { slug = '' } = useParams();
  const policy = useResource(() => policyApi.get(slug), slug, { keepErrorWhileLoading: true });
  const versions = useResource(() => policyApi.versions(slug), slug, { keepErrorWhileLoading: true });
  const reload = () => {
    policy.reload();
    versions.reload();
  };

  useEffect(() => {
    document.title = `${policy.data?.title ?? slug} · Policies · Arbiter`;
  }, [policy.data, slug]);

  const error = policy.error ?? versions.error;
  const ready = policy.data && versions.data;

  return (
    <div className="stack">
      <p>
        <Link to="/policies">← All policies</Link>
      </p>
      <div className="page__heading">
        <div>
          <h1>{policy.data?.title ?? slug}</h1>
          <p className="muted mono">{slug}</p>
        </div>
        {policy.data && (
          <div className="page__actions">
            <span className="tag" data-testid="published-version">
              Published: {policy.data.published_version ? `v${policy.data.published_version}` : 'none'}
            </span>
            <span className="tag">Latest: {policy.data.latest_version ? `v${policy.data.latest_version}` : 'none'}</span>
            <Link className="button button--secondary" to={`/playground?policy=${encodeURIComponent(slug)}`}>
              Try in playground
            </Link>
          </div>
        )}
      </div>
      <nav aria-label="Policy sections" className="tabs">
        {TABS.map((tab) => (
          <NavLink key={tab.label} to={`/policies/${slug}${tab.to ? `/${tab.to}` : ''}`} end className="tabs__link">
            {tab.label}
          </NavLink>
        ))}
      </nav>
      {error !== null && <ErrorMessage title="Could not load the policy" error={error} onRetry={reload} />}
      {!ready && error === null && <Loading label="Loading the policy…" />}
      {policy.data && versions.data && (
        <Routes>
          <Route
            index
            element={
              <Suspense fallback={<Loading label="Loading the editor…" />}>
                <EditorTab policy={policy.data} versions={versions.data} onSaved={reload} />
              </Suspense>
            }
          />
          <Route path="history" element={<HistoryTab policy={policy.data} versions={versions.data} onChanged={reload} />} />
          <Route path="diff" element={<DiffTab slug={slug} versions={versions.data} />} />
          <Route path="audit" element={<AuditTab slug={slug} />} />
          <Route path="tests" element={<TestsTab slug={slug} versions={versions.data} />} />
        </Routes>
      )}
    </div>
  );
}
