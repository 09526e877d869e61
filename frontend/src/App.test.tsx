import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { App } from './App';
import { AuthProvider } from './auth';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean | undefined;
}

const ADA = { username: 'ada', email: 'ada@example.com', roles: ['reviewer'], is_superuser: false };
const READINESS_503 = {
  status: 'unavailable',
  checks: {
    database: { ok: true, vendor: 'postgresql', latency_ms: 1.2 },
    broker: { ok: true, latency_ms: 3.4 },
    guard_worker: { ok: false, error: 'no guard worker answered a ping within 2.0s' },
  },
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** A fake backend behind a fake `fetch`: a session flag, the auth endpoints and /readyz. */
function installFakeFetch() {
  const state = { signedIn: false, requests: [] as string[] };
  const fakeFetch = vi.fn(async (input: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    state.requests.push(`${method} ${input}`);
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
    return new Response('not found', { status: 404 });
  });
  vi.stubGlobal('fetch', fakeFetch);
  return state;
}

let container: HTMLDivElement;
let root: Root;

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname}</output>;
}

async function renderAt(path: string) {
  await act(async () => {
    root.render(
      <MemoryRouter initialEntries={[path]}>
        <AuthProvider>
          <App />
          <LocationProbe />
        </AuthProvider>
      </MemoryRouter>,
    );
  });
}

async function waitFor<T>(find: () => T | null | undefined, what: string): Promise<T> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const found = find();
    if (found) return found;
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
  }
  throw new Error(`timed out waiting for ${what}; page is: ${container.textContent}`);
}

const byTestId = (id: string) => container.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const location = () => byTestId('location')?.textContent;
const buttonNamed = (name: string) =>
  [...container.querySelectorAll('button')].find((button) => button.textContent?.trim() === name) ?? null;

function labelledInput(label: string): HTMLInputElement {
  const element = [...container.querySelectorAll('label')].find((candidate) => candidate.textContent === label);
  const input = element ? document.getElementById(element.htmlFor) : null;
  if (!(input instanceof HTMLInputElement)) throw new Error(`no input labelled ${label}`);
  return input;
}

async function type(input: HTMLInputElement, value: string) {
  await act(async () => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

async function click(element: HTMLElement) {
  await act(async () => {
    element.click();
  });
}

beforeEach(() => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe('the app', () => {
  it('sends a signed-out visitor to /login, shows a failed login, then the status page', async () => {
    const backend = installFakeFetch();
    await renderAt('/');
    await waitFor(() => (location() === '/login' ? buttonNamed('Log in') : null), 'the login page');

    await type(labelledInput('Username'), 'ada');
    await type(labelledInput('Password'), 'wrong');
    await click(buttonNamed('Log in')!);
    const alert = await waitFor(() => container.querySelector('.login [role="alert"]'), 'the login error');
    expect(alert.textContent).toContain('Wrong username or password.');
    expect(location()).toBe('/login');

    await type(labelledInput('Password'), 'right');
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
    expect([...container.querySelectorAll('nav a')].map((link) => link.textContent)).toEqual(['System status']);

    await click(buttonNamed('Log out')!);
    await waitFor(() => (location() === '/login' ? buttonNamed('Log in') : null), 'the login page after logout');
    expect(backend.requests).toContain('POST /api/v1/auth/logout');
  });

  it('shows an error with a retry when the session check fails', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' })),
    );
    await renderAt('/');
    const alert = await waitFor(() => container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain('HTTP 502 Bad Gateway');
    expect(buttonNamed('Try again')).not.toBeNull();
  });

  it('shows "Page not found" for an unknown path when signed in', async () => {
    const backend = installFakeFetch();
    backend.signedIn = true;
    await renderAt('/no-such-page');
    await waitFor(() => container.querySelector('h1'), 'a heading');
    expect(container.querySelector('h1')?.textContent).toBe('Page not found');
  });
});
