import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { api } from '../../api';
import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
import { DECISION as BASE_DECISION } from '../../test/fixtures';
import { DecisionDetailPage } from './DecisionDetailPage';
import { DecisionsPage } from './DecisionsPage';

const DECISION = { ...BASE_DECISION, flagged: true, verdict: 'unsafe' as const, categories: ['S1'], score: 0.9 };

const DETAIL = { ...DECISION, messages: [{ role: 'user', content: 'Hi' }], raw_output: '', template_version: 'rsafe-1', review_history: null };

const page = (results: object[]) => ({ count: results.length, count_exact: true, next: null, previous: null, results });

const USER = { username: 'paula', email: '', roles: ['policy_editor'], is_superuser: false };

/** The list, with one decision whatever the filters, and the decision's page. */
function installBackend(options: { results?: object[]; me?: () => Response } = {}) {
  return stubFetch((url) => {
    if (url.startsWith('/api/v1/decisions/?')) return json(page(options.results ?? [DECISION]));
    if (url === '/api/v1/decisions/dec-1/') return json(DETAIL);
    if (url === '/api/v1/policies/') return json([]);
    if (url === '/api/v1/auth/me') return (options.me ?? (() => json(USER)))();
    return undefined;
  });
}

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search}</output>;
}

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

function renderAt(path: string) {
  return dom.render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/decisions" element={<DecisionsPage />} />
        <Route path="/decisions/:id" element={<DecisionDetailPage />} />
      </Routes>
      <LocationProbe />
    </MemoryRouter>,
  );
}

const linkNamed = (name: string) => [...dom.container.querySelectorAll('a')].find((a) => a.textContent?.trim() === name) ?? null;

describe('the decision audit list', () => {
  it('comes back filtered, at the same page, from a decision’s "← Decision audit" link', async () => {
    installBackend();
    await renderAt('/decisions?verdict=unsafe&cursor=abc');
    const row = await waitFor(() => byTestId('decision-row'), 'the row');
    await click(row.querySelector('a')!);
    await waitFor(() => byTestId('decision-content'), 'the decision');
    expect(byTestId('location')?.textContent).toBe('/decisions/dec-1');

    await click(linkNamed('← Decision audit')!);
    await waitFor(() => byTestId('decision-row'), 'the list again');
    expect(byTestId('location')?.textContent).toBe('/decisions?verdict=unsafe&cursor=abc');
    expect((dom.container.querySelector('#filter-verdict') as HTMLSelectElement).value).toBe('unsafe');
  });

  it('says there are no decisions yet when nothing is filtered and there are none', async () => {
    installBackend({ results: [] });
    await renderAt('/decisions');
    const empty = await waitFor(() => byTestId('decisions-empty'), 'the empty list');
    expect(empty.textContent).toContain('There are no decisions yet');
  });

  it('says no decision matches when filters leave nothing', async () => {
    installBackend({ results: [] });
    await renderAt('/decisions?verdict=unsafe');
    const empty = await waitFor(() => byTestId('decisions-empty'), 'the empty list');
    expect(empty.textContent).toBe('No decision matches these filters.');
  });
});

describe('Export CSV', () => {
  /** Clicks that reach the document with their default action still to come (the browser would
   * download); the default is then prevented, as jsdom does not download. */
  let downloads: string[];
  const record = (event: MouseEvent) => {
    const anchor = (event.target as HTMLElement).closest('a');
    if (anchor && !event.defaultPrevented) downloads.push(anchor.getAttribute('href') ?? '');
    event.preventDefault();
  };
  beforeEach(() => {
    downloads = [];
    document.addEventListener('click', record);
  });
  afterEach(() => document.removeEventListener('click', record));

  it('checks the session, then downloads as a plain link', async () => {
    const requests = installBackend();
    await renderAt('/decisions?verdict=unsafe');
    await waitFor(() => byTestId('decision-row'), 'the row');
    await click(byTestId('export-csv')!);
    await waitFor(() => (downloads.length > 0 ? true : null), 'the download');
    expect(downloads).toEqual(['/api/v1/decisions/export/?verdict=unsafe&format=csv']);
    expect(requests).toContain('GET /api/v1/auth/me');
    expect(byTestId('export-csv')?.getAttribute('download')).not.toBeNull();
    expect(dom.container.querySelector('[role="alert"]')).toBeNull();
  });

  it('after the session lapsed, downloads nothing and goes the way of every 401', async () => {
    const lapsed: number[] = [];
    const unsubscribe = api.onUnauthorized((error) => lapsed.push(error.status));
    try {
      installBackend({ me: () => json({ error: { code: 'not_authenticated', message: 'Log in.' } }, 401) });
      await renderAt('/decisions?verdict=unsafe');
      await waitFor(() => byTestId('decision-row'), 'the row');
      await click(byTestId('export-csv')!);
      const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the message');
      expect(lapsed).toEqual([401]); // the app's listener sends the user to the login page
      expect(alert.textContent).toContain('Could not export the decisions');
      expect(alert.textContent).toContain('Your session has expired');
      expect(downloads).toEqual([]);
    } finally {
      unsubscribe();
    }
  });

  it('says why when the session cannot be checked', async () => {
    installBackend({ me: () => new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' }) });
    await renderAt('/decisions');
    await waitFor(() => byTestId('decision-row'), 'the row');
    await click(byTestId('export-csv')!);
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the message');
    expect(alert.textContent).toContain('HTTP 502 Bad Gateway');
    expect(downloads).toEqual([]);
  });
});
