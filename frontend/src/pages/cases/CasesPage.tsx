import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';

import { ApiError, type FieldError } from '../../api';
import { ErrorMessage, Loading, errorMessage } from '../../components/Feedback';
import {
  CASES_EXPORT_URL,
  CASES_PAGE_SIZE,
  caseContent,
  caseFiltersFromSearch,
  casePageFromSearch,
  caseSearch,
  describeImport,
  describeImportError,
  fetchCases,
  formatCaseCount,
  importCases,
  type CaseFilters,
  type ImportReport,
} from '../../lib/cases';
import { fetchPolicies } from '../../lib/decisions';
import { formatDateTime } from '../../lib/format';
import { useCheckedDownload } from '../../lib/useCheckedDownload';
import { useResource } from '../../lib/useResource';
import { VerdictBadge } from '../decisions/Verdict';

/** What the last import answered: its report, or why the server refused the file. */
type ImportOutcome =
  | { kind: 'done'; report: ImportReport }
  | { kind: 'refused'; message: string; errors: FieldError[]; nothingImported: boolean };

export function CasesPage() {
  const [search, setSearch] = useSearchParams();
  const filters = caseFiltersFromSearch(search);
  const page = casePageFromSearch(search);
  const searchKey = search.toString();

  useEffect(() => {
    document.title = 'Cases · Arbiter';
  }, []);

  const cases = useResource((signal) => fetchCases(filters, page, signal), searchKey);
  const policies = useResource((signal) => fetchPolicies(signal), 'policies');
  const exportCases = useCheckedDownload();
  const publishedPolicies = (policies.data ?? []).filter((policy) => policy.published_version !== null);

  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const [policy, setPolicy] = useState('');
  const [format, setFormat] = useState('');
  const [importing, setImporting] = useState(false);
  const [outcome, setOutcome] = useState<ImportOutcome | null>(null);

  function setFilter(name: keyof CaseFilters, value: string) {
    setSearch(caseSearch({ ...filters, [name]: value }));
  }

  async function submitImport(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (importing) return;
    if (!file) {
      setFileProblem('Choose a CSV or JSONL file to import.');
      return;
    }
    setFileProblem(null);
    setOutcome(null);
    setImporting(true);
    try {
      const report = await importCases(file, { policy, format });
      setOutcome({ kind: 'done', report });
      setFile(null);
      if (fileInput.current) fileInput.current.value = '';
      // The new cases are the newest: show the first page (the filters stay).
      if (page > 1) setSearch(caseSearch(filters));
      else cases.reload();
    } catch (error) {
      // 409: the named policy has nothing published to check the categories against.
      const refused = error instanceof ApiError && [400, 409, 413].includes(error.status);
      setOutcome({
        kind: 'refused',
        message: errorMessage(error),
        errors: error instanceof ApiError ? error.errors : [],
        // A refused file (a bad row, too many rows) is refused whole; after a network failure we cannot know.
        nothingImported: refused,
      });
    } finally {
      setImporting(false);
    }
  }

  const data = cases.data;
  const first = data && data.results.length > 0 ? (page - 1) * CASES_PAGE_SIZE + 1 : 0;
  const last = data ? (page - 1) * CASES_PAGE_SIZE + data.results.length : 0;
  const filterSelect = (name: keyof CaseFilters, label: string, options: [string, string][]) => (
    <div className="form__field">
      <label htmlFor={`cases-filter-${name}`}>{label}</label>
      <select
        id={`cases-filter-${name}`}
        name={name}
        value={filters[name]}
        data-testid={`cases-filter-${name}`}
        onChange={(event) => setFilter(name, event.target.value)}
      >
        <option value="">Any</option>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Cases</h1>
        <div className="page__actions">
          <a
            className="button button--secondary"
            href={CASES_EXPORT_URL}
            download
            onClick={exportCases.onClick}
            aria-busy={exportCases.checking}
            data-testid="cases-export"
          >
            Export JSONL
          </a>
        </div>
      </div>
      {exportCases.error !== null && <ErrorMessage title="Could not export the cases" error={exportCases.error} />}
      <p className="muted">
        Labelled examples that train and evaluate the guard model: reviewers' labels and imported files.
      </p>

      <form className="card form" onSubmit={submitImport} aria-labelledby="cases-import-heading" noValidate>
        <div className="card__header">
          <h2 id="cases-import-heading">Import</h2>
        </div>
        <p className="form__hint">
          A CSV with a header, or JSONL: columns <code>prompt</code> (or <code>text</code>, or <code>messages</code>),{' '}
          <code>label</code> (safe or unsafe), optional <code>categories</code>. A file with a bad row imports nothing;
          rows already stored are skipped.
        </p>
        <div className="filters__grid">
          <div className="form__field">
            <label htmlFor="cases-import-file">File</label>
            <input
              ref={fileInput}
              id="cases-import-file"
              name="file"
              type="file"
              accept=".csv,.jsonl,.ndjson"
              data-testid="cases-import-file"
              aria-invalid={fileProblem ? true : undefined}
              aria-describedby={fileProblem ? 'cases-import-file-error' : undefined}
              onChange={(event) => {
                setFile(event.target.files?.[0] ?? null);
                setFileProblem(null);
              }}
            />
            {fileProblem && (
              <p id="cases-import-file-error" className="form__error" data-testid="cases-import-file-error">
                {fileProblem}
              </p>
            )}
          </div>
          <div className="form__field">
            <label htmlFor="cases-import-policy">Check categories against</label>
            <select
              id="cases-import-policy"
              name="policy"
              value={policy}
              data-testid="cases-import-policy"
              onChange={(event) => setPolicy(event.target.value)}
            >
              <option value="">No policy (categories unchecked)</option>
              {publishedPolicies.map((item) => (
                <option key={item.slug} value={item.slug}>
                  {item.slug} v{item.published_version}
                </option>
              ))}
            </select>
          </div>
          <div className="form__field">
            <label htmlFor="cases-import-format">Format</label>
            <select
              id="cases-import-format"
              name="format"
              value={format}
              data-testid="cases-import-format"
              onChange={(event) => setFormat(event.target.value)}
            >
              <option value="">By file name</option>
              <option value="csv">CSV</option>
              <option value="jsonl">JSONL</option>
            </select>
          </div>
        </div>
        <div className="form__buttons">
          <button type="submit" className="button button--primary" disabled={importing} data-testid="cases-import-submit">
            {importing ? 'Importing…' : 'Import'}
          </button>
        </div>
        {policies.error !== null && <ErrorMessage title="Could not load the policies" error={policies.error} />}
        {outcome?.kind === 'done' && (
          <p className="alert alert--ok" role="status" data-testid="cases-import-result">
            {describeImport(outcome.report)}
          </p>
        )}
        {outcome?.kind === 'refused' && (
          <div className="alert alert--error" role="alert" data-testid="cases-import-error">
            <p className="alert__title">
              {outcome.nothingImported ? 'The file was refused: nothing was imported.' : 'The import failed.'}
            </p>
            <p>{outcome.message}</p>
            {outcome.errors.length > 0 && (
              <>
                <ul className="alert__list" data-testid="cases-import-errors">
                  {outcome.errors.map((error, index) => (
                    <li key={index}>{describeImportError(error)}</li>
                  ))}
                </ul>
                {outcome.errors.some((error) => error.line !== undefined) && (
                  <p className="small">Lines are the file's own, as an editor numbers them: a CSV's header is line 1.</p>
                )}
              </>
            )}
          </div>
        )}
      </form>

      <section className="card" aria-labelledby="cases-heading" aria-busy={cases.loading}>
        <div className="card__header">
          <h2 id="cases-heading">Labelled cases</h2>
          {data && (
            <span className="muted" data-testid="cases-count">
              {formatCaseCount(data.count)}
            </span>
          )}
        </div>
        <div className="filters__grid" role="group" aria-label="Filters">
          {filterSelect('split', 'Split', [
            ['train', 'Train'],
            ['eval', 'Eval'],
          ])}
          {filterSelect('source', 'Source', [
            ['review', 'Review'],
            ['import', 'Import'],
          ])}
          {filterSelect('verdict', 'Verdict', [
            ['unsafe', 'Unsafe'],
            ['safe', 'Safe'],
          ])}
        </div>
        {cases.error !== null && <ErrorMessage title="Could not load the cases" error={cases.error} onRetry={cases.reload} />}
        {cases.loading && !data && <Loading label="Loading cases…" />}
        {data && data.results.length === 0 && (
          <p className="muted">{page > 1 ? 'No cases on this page.' : 'No case matches these filters.'}</p>
        )}
        {data && data.results.length > 0 && (
          <div className="table-scroll">
            <table className="table table--compact" data-testid="cases-table">
              <caption className="visually-hidden">Labelled cases, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Source</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Categories</th>
                  <th scope="col">Content</th>
                  <th scope="col">Split</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Decision</th>
                </tr>
              </thead>
              <tbody>
                {data.results.map((item) => {
                  const content = caseContent(item);
                  return (
                    <tr key={item.id} data-testid="case-row" data-case-id={item.id}>
                      <td>{formatDateTime(item.created_at)}</td>
                      <td>{item.source}</td>
                      <td>
                        <VerdictBadge decision={{ verdict: item.verdict, malformed: false, status: 'completed' }} />
                      </td>
                      <td>{item.categories.join(', ') || '—'}</td>
                      <td title={content.truncated ? content.full.slice(0, 2000) : undefined}>
                        {content.text || '—'}
                      </td>
                      <td>{item.split}</td>
                      <td>{item.policy ? `${item.policy.slug} v${item.policy.version}` : '—'}</td>
                      <td>
                        {item.source === 'review' && item.decision ? (
                          <Link to={`/decisions/${encodeURIComponent(item.decision)}`}>Decision</Link>
                        ) : (
                          '—'
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {data && (data.next !== null || data.previous !== null || page > 1) && (
          <nav className="pager" aria-label="Pages">
            <button
              type="button"
              className="button button--secondary button--small"
              disabled={page <= 1 || cases.loading}
              onClick={() => setSearch(caseSearch(filters, page - 1))}
              data-testid="cases-previous"
            >
              Previous
            </button>
            <span className="muted">
              {data.results.length > 0
                ? `${first.toLocaleString('en-US')}–${last.toLocaleString('en-US')} of ${data.count.toLocaleString('en-US')}`
                : `Page ${page}`}
            </span>
            <button
              type="button"
              className="button button--secondary button--small"
              disabled={data.next === null || cases.loading}
              onClick={() => setSearch(caseSearch(filters, page + 1))}
              data-testid="cases-next"
            >
              Next
            </button>
          </nav>
        )}
      </section>
    </div>
  );
}
