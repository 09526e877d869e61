import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { App } from './App';
import { AuthProvider } from './auth';
import { click, json, setupTestRoot, stubFetch, typeInto } from './test/dom';

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
});
