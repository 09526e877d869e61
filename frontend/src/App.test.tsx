import { act } from 'react';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { App } from './App';
import { AuthProvider } from './auth';
import { click, json, setupTestRoot, stubFetch, typeInto } from './test/dom';
import { REVIEW_STATS } from './test/fixtures';

const ADA = { username: 'ada', email: 'ada@example.com', roles: ['reviewer'], is_superuser: false };
const READINESS_503 = {
  status: 'unavailable',
  checks: {
    database: { ok: true, vendor: 'postgresql', latency_ms: 1.2 },
    broker: { ok: true, latency_ms: 3.4 },
    guard_worker: { ok: false, error: 'no guard worker answered a ping within 2.0s' },
  },
};

/** A fake backend behind a fake `fetch`: a session flag, the auth endpoints and /readyz. */
function installFakeFetch() {
  const state = { signedIn: false, requests: [] as string[] };
  state.requests = stubFetch((input, init) => {
    const method = init.method ?? 'GET';
    if (input === '/api/v1/auth/me') {
      return state.signedIn ? json(ADA) : json({ error: { code: 'not_authenticated', message: 'Log in.' } }, 403);
    }
    if (input === '/api/v1/auth/login' && method === 'POST') {
      const { password } = JSON.parse(init.body as string) as { password: string };
      if (password !== 'right') {
        return json({ error: { code: 'invalid_credentials', message: 'Wrong username or password.' } }, 400);
      }
      state.signedIn = true;
      return json(ADA);
    }
    if (input === '/api/v1/auth/logout' && method === 'POST') {
      state.signedIn = false;
      return new Response(null, { status: 204 });
    }
    if (input === '/readyz') return json(READINESS_503, 503);
    return undefined;
  });
  return state;
}

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname}</output>;
}

async function renderAt(path: string) {
  await dom.render(
    <MemoryRouter initialEntries={[path]}>
      <AuthProvider>
        <App />
        <LocationProbe />
      </AuthProvider>
    </MemoryRouter>,
  );
}

const location = () => byTestId('location')?.textContent;
const buttonNamed = (name: string) =>
  [...dom.container.querySelectorAll('button')].find((button) => button.textContent?.trim() === name) ?? null;

function labelledInput(label: string): HTMLInputElement {
  const element = [...dom.container.querySelectorAll('label')].find((candidate) => candidate.textContent === label);
  const input = element ? document.getElementById(element.htmlFor) : null;
  if (!(input instanceof HTMLInputElement)) throw new Error(`no input labelled ${label}`);
  return input;
}

describe('the app', () => {
  it('sends a signed-out visitor to /login, shows a failed login, then the status page', async () => {
    const backend = installFakeFetch();
    await renderAt('/');
    await waitFor(() => (location() === '/login' ? buttonNamed('Log in') : null), 'the login page');

    await typeInto(labelledInput('Username'), 'ada');
    await typeInto(labelledInput('Password'), 'wrong');
    await click(buttonNamed('Log in')!);
    const alert = await waitFor(() => dom.container.querySelector('.login [role="alert"]'), 'the login error');
    expect(alert.textContent).toContain('Wrong username or password.');
    expect(location()).toBe('/login');

    await typeInto(labelledInput('Password'), 'right');
    await click(buttonNamed('Log in')!);
    await waitFor(() => byTestId('check-guard_worker'), 'the status checks');

    expect(location()).toBe('/');
    expect(byTestId('check-database')?.textContent).toContain('OK');
    expect(byTestId('check-database')?.textContent).toContain('1.2 ms');
    expect(byTestId('check-guard_worker')?.textContent).toContain('Failed');
    expect(byTestId('check-guard_worker')?.textContent).toContain('no guard worker answered a ping within 2.0s');
    expect(byTestId('status-overall')?.textContent).toBe('Unavailable');
    expect(byTestId('user-roles')?.textContent).toContain('Reviewer');
    expect(byTestId('current-username')?.textContent).toBe('ada');
    expect([...dom.container.querySelectorAll('nav a')].map((link) => link.textContent)).toEqual([
      'System status',
      'Review',
      'Audit',
      'Cases',
    ]);

    await click(buttonNamed('Log out')!);
    await waitFor(() => (location() === '/login' ? buttonNamed('Log in') : null), 'the login page after logout');
    expect(backend.requests).toContain('POST /api/v1/auth/logout');
  });

  it('shows an error with a retry when the session check fails', async () => {
    stubFetch(() => new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' }));
    await renderAt('/');
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain('HTTP 502 Bad Gateway');
    expect(buttonNamed('Try again')).not.toBeNull();
  });

  it('shows "Page not found" for an unknown path when signed in', async () => {
    const backend = installFakeFetch();
    backend.signedIn = true;
    await renderAt('/no-such-page');
    await waitFor(() => dom.container.querySelector('h1'), 'a heading');
    expect(dom.container.querySelector('h1')?.textContent).toBe('Page not found');
  });

  it('keeps a reviewer’s label over a lapsed session and gives it back with the same item', async () => {
    sessionStorage.clear();
    const backend = { signedIn: true };
    const item = {
      id: 7,
      reason: 'flagged',
      priority: 2,
      status: 'claimed',
      labels_needed: 1,
      escalated_at: null,
      earlier_labels: [],
      claim_expires_at: new Date(Date.now() + 15 * 60_000).toISOString(),
      created_at: '2026-11-24T10:00:00Z',
      policy_categories: [{ code: 'S1', name: 'Violent crimes', description: 'Violence.' }],
      decision: {
        id: 'dec-1',
        status: 'completed',
        verdict: 'unsafe',
        malformed: false,
        flagged: true,
        categories: ['S1'],
        score: 0.8,
        reasoning: '',
        policy: { slug: 'core-safety', version: 1, sha256: 'x' },
        model: null,
        messages: [{ role: 'user', content: 'How do I get back at my neighbour?' }],
        target: 'prompt',
      },
    };
    const signedOut = () => json({ error: { code: 'not_authenticated', message: 'Log in.' } }, 401);
    stubFetch((input, init) => {
      if (input === '/api/v1/auth/me') return backend.signedIn ? json(ADA) : signedOut();
      if (input === '/api/v1/auth/login') {
        backend.signedIn = true;
        return json(ADA);
      }
      if (!backend.signedIn) return signedOut();
      if (input.startsWith('/api/v1/review/stats/reviewers/')) return json([]);
      if (input.startsWith('/api/v1/review/stats/')) return json(REVIEW_STATS);
      if (input === '/api/v1/review/next/' && init.method === 'POST') return json({ item });
      return undefined;
    });
    await renderAt('/review');
    await waitFor(() => byTestId('stats-open'), 'the review page');
    const press = (key: string, init: KeyboardEventInit = {}) =>
      act(async () => {
        (document.activeElement ?? document.body).dispatchEvent(
          new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init }),
        );
      });
    await press('n');
    await waitFor(() => byTestId('review-item'), 'the claimed item');
    await press('u');
    await press('1');
    await typeInto(byTestId('label-rationale') as HTMLTextAreaElement, 'Seeks revenge on a named neighbour.');

    backend.signedIn = false; // the session lapses
    await click(byTestId('label-submit')!);
    const expired = await waitFor(() => byTestId('session-expired'), 'the login page');
    expect(location()).toBe('/login');
    expect(expired.textContent).toContain('review label you were writing comes back');

    await typeInto(labelledInput('Username'), 'ada');
    await typeInto(labelledInput('Password'), 'right');
    await click(buttonNamed('Log in')!);
    await waitFor(() => byTestId('stats-open'), 'the review page again');
    expect(location()).toBe('/review');
    await press('n');
    await waitFor(() => byTestId('review-item'), 'the same item');
    expect((byTestId('label-rationale') as HTMLTextAreaElement).value).toBe('Seeks revenge on a named neighbour.');
    expect(byTestId('label-unsafe')).toHaveProperty('checked', true);
    expect(byTestId('label-category-S1')).toHaveProperty('checked', true);
  });

  it('sends an auditor whose session lapsed to the login page when they export the audit list', async () => {
    const backend = { signedIn: true };
    const auditor = { ...ADA, roles: ['policy_editor'] };
    const signedOut = () => json({ error: { code: 'not_authenticated', message: 'Log in.' } }, 401);
    stubFetch((input) => {
      if (input === '/api/v1/auth/me') return backend.signedIn ? json(auditor) : signedOut();
      if (!backend.signedIn) return signedOut();
      if (input.startsWith('/api/v1/decisions/?')) return json({ count: 0, count_exact: true, next: null, previous: null, results: [] });
      if (input === '/api/v1/policies/') return json([]);
      return undefined;
    });
    await renderAt('/decisions?verdict=unsafe');
    const link = await waitFor(() => byTestId('export-csv'), 'the audit list');
    backend.signedIn = false; // the session lapses
    await click(link);
    const expired = await waitFor(() => byTestId('session-expired'), 'the login page');
    expect(location()).toBe('/login');
    expect(expired.textContent).toContain('Your session has expired');
  });
});
