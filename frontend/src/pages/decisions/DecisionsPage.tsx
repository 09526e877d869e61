import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import {
  cursorFromUrl,
  decisionListState,
  EMPTY_FILTERS,
  decisionsCsvUrl,
  fetchDecisions,
  fetchPolicies,
  filterProblems,
  filtersFromSearch,
  filtersToSearch,
  formatMatchCount,
  type DecisionFilters,
} from '../../lib/decisions';
import { formatDateTime, formatMs, formatScore } from '../../lib/format';
import { useCheckedDownload } from '../../lib/useCheckedDownload';
import { useResource } from '../../lib/useResource';
import { VerdictBadge } from './Verdict';

export function DecisionsPage() {
  const [search, setSearch] = useSearchParams();
  const applied = filtersFromSearch(search);
  // The page's place in the list: an opaque keyset cursor from the API; none means the newest page.
  const cursor = search.get('cursor') || null;
  const [draft, setDraft] = useState<DecisionFilters>(applied);
  const problems = filterProblems(applied);
  const draftProblems = filterProblems(draft);
  const valid = Object.keys(problems).length === 0;

  useEffect(() => {
    document.title = 'Decision audit · Arbiter';
  }, []);
  const searchKey = search.toString();
  useEffect(() => setDraft(filtersFromSearch(new URLSearchParams(searchKey))), [searchKey]);

  const policies = useResource((signal) => fetchPolicies(signal), 'policies');
  const exportCsv = useCheckedDownload();
  const page = useResource(
    (signal) => (valid ? fetchDecisions(applied, cursor, signal) : Promise.resolve(null)),
    `${searchKey}`,
  );

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (Object.keys(draftProblems).length > 0) return;
    setSearch(filtersToSearch(draft));
  }

  /** Opens the page at `target` (null: the newest page) with the applied filters. */
  function goTo(target: string | null) {
    const next = filtersToSearch(applied);
    if (target) next.set('cursor', target);
    setSearch(next);
  }

  const field = (name: keyof DecisionFilters) => ({
    id: `filter-${name}`,
    name,
    value: draft[name],
    'aria-invalid': draftProblems[name] ? true : undefined,
    'aria-describedby': draftProblems[name] ? `filter-${name}-error` : undefined,
    onChange: (event: { target: { value: string } }) => setDraft({ ...draft, [name]: event.target.value }),
  });
  const fieldError = (name: keyof DecisionFilters) =>
    draftProblems[name] ? (
      <p id={`filter-${name}-error`} className="form__error">
        {draftProblems[name]}
      </p>
    ) : null;

  const data = page.data;
  const unfiltered = filtersToSearch(applied).toString() === '';
  // Handed to each decision's page, so its "← Decision audit" link comes back to this list as it is.
  const listState = decisionListState(search.toString());
  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Decision audit</h1>
        <div className="page__actions">
          {valid ? (
            <a
              className="button button--secondary"
              href={decisionsCsvUrl(applied)}
              download
              onClick={exportCsv.onClick}
              aria-busy={exportCsv.checking}
              data-testid="export-csv"
            >
              Export CSV
            </a>
          ) : (
            <button type="button" className="button button--secondary" disabled data-testid="export-csv">
              Export CSV
            </button>
          )}
        </div>
      </div>
      {exportCsv.error !== null && <ErrorMessage title="Could not export the decisions" error={exportCsv.error} />}

      <form className="card filters" onSubmit={apply} aria-label="Filters">
        <div className="filters__grid">
          <div className="form__field">
            <label htmlFor="filter-verdict">Verdict</label>
            <select {...field('verdict')}>
              <option value="">Any</option>
              <option value="unsafe">Unsafe</option>
              <option value="safe">Safe</option>
              <option value="malformed">Malformed output</option>
            </select>
          </div>
          <div className="form__field">
            <label htmlFor="filter-webhook">Webhook</label>
            <select {...field('webhook')}>
              <option value="">Any</option>
              <option value="failed">Failed</option>
              <option value="pending">Pending</option>
              <option value="delivered">Delivered</option>
              <option value="skipped">Skipped</option>
            </select>
          </div>
          <div className="form__field">
            <label htmlFor="filter-policy">Policy</label>
            <select {...field('policy')}>
              <option value="">Any</option>
              {(policies.data ?? []).map((policy) => (
                <option key={policy.slug} value={policy.slug}>
                  {policy.slug}
                </option>
              ))}
              {draft.policy && !(policies.data ?? []).some((p) => p.slug === draft.policy) && (
                <option value={draft.policy}>{draft.policy}</option>
              )}
            </select>
          </div>
          <div className="form__field">
            <label htmlFor="filter-version">Version</label>
            <input type="text" inputMode="numeric" placeholder="e.g. 2" {...field('version')} />
            {fieldError('version')}
          </div>
          <div className="form__field">
            <label htmlFor="filter-category">Category</label>
            <input type="text" placeholder="e.g. S1" {...field('category')} />
          </div>
          <div className="form__field">
            <label htmlFor="filter-api_key">API key prefix</label>
            <input type="text" spellCheck={false} {...field('api_key')} />
          </div>
          <div className="form__field">
            <label htmlFor="filter-since">From</label>
            <input type="date" {...field('since')} />
            {fieldError('since')}
          </div>
          <div className="form__field">
            <label htmlFor="filter-until">To</label>
            <input type="date" {...field('until')} />
            {fieldError('until')}
          </div>
        </div>
        <div className="form__buttons">
          <button type="submit" className="button button--primary" data-testid="filters-apply">
            Apply filters
          </button>
          <button
            type="button"
            className="button button--secondary"
            onClick={() => {
              setDraft(EMPTY_FILTERS);
              setSearch(new URLSearchParams());
            }}
          >
            Clear
          </button>
        </div>
        {policies.error !== null && <ErrorMessage title="Could not load the policies" error={policies.error} />}
      </form>

      <section className="card" aria-labelledby="decisions-heading" aria-busy={page.loading}>
        <div className="card__header">
          <h2 id="decisions-heading">Decisions</h2>
          {data && <span className="muted">{formatMatchCount(data.count, data.count_exact)}</span>}
        </div>
        {!valid && <p className="muted">Fix the filters above to see decisions.</p>}
        {page.error !== null && <ErrorMessage title="Could not load the decisions" error={page.error} onRetry={page.reload} />}
        {page.error !== null && cursor && (
          <p>
            <button type="button" className="button button--secondary button--small" onClick={() => goTo(null)}>
              Go to the newest decisions
            </button>
          </p>
        )}
        {page.loading && !data && <Loading label="Loading decisions…" />}
        {data && data.results.length === 0 && (
          <p className="muted" data-testid="decisions-empty">
            {!unfiltered
              ? 'No decision matches these filters.'
              : cursor
                ? 'No decisions on this page.'
                : 'There are no decisions yet: they appear here as the moderation API answers requests.'}
          </p>
        )}
        {data && data.results.length > 0 && (
          <div className="table-scroll">
            <table className="table table--compact" data-testid="decisions-table">
              <caption className="visually-hidden">Decisions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Categories</th>
                  <th scope="col">Score</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Model</th>
                  <th scope="col">Review</th>
                  <th scope="col">Latency</th>
                </tr>
              </thead>
              <tbody>
                {data.results.map((decision) => (
                  <tr key={decision.id} data-testid="decision-row" data-decision-id={decision.id}>
                    <td>
                      <Link to={`/decisions/${decision.id}`} state={listState}>{formatDateTime(decision.created_at)}</Link>
                    </td>
                    <td>
                      <VerdictBadge decision={decision} />
                    </td>
                    <td>{decision.categories.join(', ') || '—'}</td>
                    <td>{formatScore(decision.score)}</td>
                    <td>
                      {decision.policy.slug} v{decision.policy.version}
                    </td>
                    <td>{decision.model?.name ?? '—'}</td>
                    <td>{decision.review ? `${decision.review.status} (${decision.review.reason})` : '—'}</td>
                    <td>{formatMs(decision.latency_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {data && (data.next !== null || data.previous !== null) && (
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              className="button button--secondary button--small"
              disabled={data.previous === null || page.loading}
              onClick={() => goTo(cursorFromUrl(data.previous))}
            >
              Newer
            </button>
            <button
              type="button"
              className="button button--secondary button--small"
              disabled={data.next === null || page.loading}
              onClick={() => goTo(cursorFromUrl(data.next))}
            >
              Older
            </button>
          </nav>
        )}
      </section>
    </div>
  );
}
