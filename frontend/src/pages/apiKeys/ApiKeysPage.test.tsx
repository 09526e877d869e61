import { act } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';

import { App } from '../../App';
import { AuthProvider } from '../../auth';
import { click, json, setupTestRoot, stubFetch, typeInto } from '../../test/dom';
import type { ApiKey, CreatedApiKey } from '../../lib/apiKeys';
import { ApiKeysPage } from './ApiKeysPage';

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

// As the server lists them: newest first, a revoked key among the active ones.
const CHAT: ApiKey = {
  prefix: '1a2b3c4d',
  name: 'chat-service',
  policy: 'core-safety',
  rate_limit_per_minute: 600,
  webhook_url: 'https://hooks.example.com/arbiter/decisions?team=trust-and-safety',
  created_by: 'admin',
  created_at: '2026-12-03T10:00:00Z',
  last_used_at: minutesAgo(5),
  revoked_at: null,
};
const OLD_BOT: ApiKey = {
  ...CHAT,
  prefix: '9f8e7d6c',
  name: 'old-bot',
  webhook_url: '',
  created_at: '2026-12-02T10:00:00Z',
  last_used_at: '2026-12-02T11:00:00Z',
  revoked_at: '2026-12-04T09:00:00Z',
};
const BATCH: ApiKey = {
  ...CHAT,
  prefix: '55aa66bb',
  name: 'batch-import',
  policy: null,
  rate_limit_per_minute: 120,
  webhook_url: '',
  created_by: null,
  created_at: '2026-12-01T10:00:00Z',
  last_used_at: null,
};
const POLICIES = [
  { slug: 'core-safety', title: 'Core safety', description: '', latest_version: 2, published_version: 1, created_at: '2026-11-01T00:00:00Z' },
  { slug: 'kids', title: 'Kids', description: '', latest_version: 1, published_version: null, created_at: '2026-11-01T00:00:00Z' },
];
const TOKEN = 'ak_0f0f0f0f_Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHdhYmNkZWZnaGlq';
const WEBHOOK_SECRET = 'c0ffee'.repeat(10) + 'beef';

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

interface Backend {
  requests: string[];
  bodies: unknown[];
  csrf: (string | undefined)[];
}

/**
 * A fake backend with the keys `initial`; creating answers `createAnswer(body)` (and lists the key
 * made from then on), revoking marks the key revoked.
 */
function backend(
  initial: ApiKey[] = [CHAT, OLD_BOT, BATCH],
  createAnswer?: (body: Record<string, unknown>) => Response,
  listAnswer?: () => Promise<Response | undefined> | Response | undefined,
): Backend {
  let keys = [...initial];
  const bodies: unknown[] = [];
  const csrf: (string | undefined)[] = [];
  const requests = stubFetch((input, init) => {
    const method = init.method ?? 'GET';
    if (input === '/api/v1/api-keys/' && method === 'GET') return (async () => (await listAnswer?.()) ?? json(keys))();
    if (input === '/api/v1/policies/') return json(POLICIES);
    if (input === '/api/v1/api-keys/' && method === 'POST') {
      const body = JSON.parse(init.body as string) as Record<string, unknown>;
      bodies.push(body);
      csrf.push((init.headers as Record<string, string>)['X-CSRFToken']);
      if (createAnswer) return createAnswer(body);
      const made: CreatedApiKey = {
        prefix: '0f0f0f0f',
        name: String(body.name),
        policy: (body.policy as string | undefined) ?? null,
        rate_limit_per_minute: (body.rate_limit_per_minute as number | undefined) ?? 600,
        webhook_url: (body.webhook_url as string | undefined) ?? '',
        created_by: 'admin',
        created_at: new Date().toISOString(),
        last_used_at: null,
        revoked_at: null,
        key: TOKEN,
        webhook_secret: body.webhook_url ? WEBHOOK_SECRET : null,
      };
      const { key: _token, webhook_secret: _secret, ...listed } = made;
      keys = [listed, ...keys];
      return json(made, 201);
    }
    const revoke = /^\/api\/v1\/api-keys\/([^/]+)\/revoke\/$/.exec(input);
    if (revoke && method === 'POST') {
      const found = keys.find((key) => key.prefix === revoke[1]);
      if (!found) return json({ error: { code: 'not_found', message: `no API key with prefix '${revoke[1]}'` } }, 404);
      const revoked = { ...found, revoked_at: found.revoked_at ?? new Date().toISOString() };
      keys = keys.map((key) => (key.prefix === revoked.prefix ? revoked : key));
      return json(revoked);
    }
    return undefined;
  });
  return { requests, bodies, csrf };
}

async function render() {
  document.cookie = 'csrftoken=csrf-123';
  await dom.render(
    <MemoryRouter initialEntries={['/api-keys']}>
      <ApiKeysPage />
    </MemoryRouter>,
  );
}

const rows = () => [...dom.container.querySelectorAll<HTMLElement>('[data-testid="api-key-row"]')];
const row = (prefix: string) => dom.container.querySelector<HTMLElement>(`[data-testid="api-key-row"][data-prefix="${prefix}"]`);
const field = (name: string) => byTestId(`api-key-${name}`) as HTMLInputElement;
const buttonNamed = (name: string, within: ParentNode = dom.container) =>
  [...within.querySelectorAll('button')].find((button) => button.textContent?.trim() === name) ?? null;

async function choose(select: HTMLElement, value: string) {
  await act(async () => {
    (select as HTMLSelectElement).value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

async function fillAndCreate(values: { name: string; policy?: string; rate?: string; webhook?: string }) {
  await waitFor(() => dom.container.querySelector('option[value="core-safety"]'), 'the policies');
  await typeInto(field('name'), values.name);
  if (values.policy !== undefined) await choose(field('policy'), values.policy);
  if (values.rate !== undefined) await typeInto(field('rate_limit_per_minute'), values.rate);
  if (values.webhook !== undefined) await typeInto(field('webhook_url'), values.webhook);
  await click(byTestId('api-key-create')!);
}

describe('the API keys page', () => {
  it('lists the keys, active ones first, revoked ones muted after them, with never-used keys saying so', async () => {
    backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    expect(rows().map((item) => item.dataset.prefix)).toEqual(['1a2b3c4d', '55aa66bb', '9f8e7d6c']);
    expect(byTestId('api-keys-count')?.textContent).toBe('2 active, 1 revoked');

    const chat = row('1a2b3c4d')!;
    const cells = [...chat.querySelectorAll('th, td')].map((cell) => cell.textContent);
    expect(cells.slice(0, 5)).toEqual([
      'chat-service',
      '1a2b3c4d',
      'core-safety',
      '600 / min',
      'https://hooks.example.com/arbiter/decisions?team=trust-and-safety',
    ]);
    expect(chat.querySelector('td.mono')?.textContent).toBe('1a2b3c4d');
    expect(chat.textContent).toContain('by admin');
    expect(chat.textContent).toContain('5 min ago');
    expect(chat.textContent).toContain('Active');
    expect(chat.className).not.toContain('revoked');
    expect(buttonNamed('Revoke', chat)).not.toBeNull();

    const batch = row('55aa66bb')!;
    expect(batch.textContent).toContain('never');
    expect(batch.textContent).toContain('120 / min');
    expect(batch.querySelector('.api-key-webhook')?.textContent).toBe('none');
    expect([...batch.querySelectorAll('td')][1].textContent).toBe('none'); // no policy of its own
    expect(batch.textContent).not.toContain('by ');

    const old = row('9f8e7d6c')!;
    expect(old.dataset.state).toBe('revoked');
    expect(old.className).toContain('api-key-row--revoked');
    expect(old.textContent).toContain('Revoked');
    expect(old.textContent).toContain(new Date(OLD_BOT.revoked_at!).toLocaleString());
    expect(buttonNamed('Revoke', old)).toBeNull();

    // The revoked keys can be hidden.
    await click(byTestId('api-keys-show-revoked')!);
    expect(rows().map((item) => item.dataset.prefix)).toEqual(['1a2b3c4d', '55aa66bb']);
    expect(document.title).toBe('API keys · Arbiter');
  });

  it('shows a new key and its webhook secret once, with a curl example for this host, and Done forgets them', async () => {
    const server = backend();
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    await fillAndCreate({ name: '  moderation-bot ', policy: 'core-safety', rate: '120', webhook: 'https://hooks.example.com/bot' });
    const panel = await waitFor(() => byTestId('api-key-secret-panel'), 'the secret panel');

    expect(server.bodies).toEqual([
      { name: 'moderation-bot', policy: 'core-safety', rate_limit_per_minute: 120, webhook_url: 'https://hooks.example.com/bot' },
    ]);
    expect(server.csrf).toEqual(['csrf-123']);
    expect(byTestId('api-key-token')?.textContent).toBe(TOKEN);
    expect(byTestId('api-key-webhook-secret')?.textContent).toBe(WEBHOOK_SECRET);
    expect(byTestId('api-key-once-note')?.textContent).toContain('it will not be shown again');
    const curl = byTestId('api-key-curl')?.textContent ?? '';
    expect(curl).toContain(`-H 'Authorization: Bearer ${TOKEN}'`);
    expect(curl).toContain(`-d '{"policy": "core-safety", "input": "Text to check"}'`);
    expect(curl).toContain(`${window.location.origin}/api/v1/moderate`);
    expect(document.activeElement?.id).toBe('api-key-secret-heading'); // read first by a screen reader

    // The new key is listed at once (without its secret), the form is empty, and no second key can
    // be made over this one's secrets until Done.
    expect(rows()[0].dataset.prefix).toBe('0f0f0f0f');
    expect(rows()[0].textContent).toContain('moderation-bot');
    expect(byTestId('api-keys-table')?.textContent).not.toContain(TOKEN);
    expect(field('name').value).toBe('');
    expect(field('webhook_url').value).toBe('');
    expect((byTestId('api-key-create') as HTMLButtonElement).disabled).toBe(true);

    await click(byTestId('api-key-token-copy')!);
    expect(writeText).toHaveBeenCalledWith(TOKEN);
    expect(panel.textContent).toContain('Copied');

    await click(byTestId('api-key-done')!);
    expect(byTestId('api-key-secret-panel')).toBeNull();
    expect(dom.container.textContent).not.toContain(TOKEN);
    expect(dom.container.textContent).not.toContain(WEBHOOK_SECRET);
    expect((byTestId('api-key-create') as HTMLButtonElement).disabled).toBe(false);
    await waitFor(() => (server.requests.filter((r) => r === 'GET /api/v1/api-keys/').length === 2 ? true : null), 'the reload');
    expect(row('0f0f0f0f')?.textContent).toContain('moderation-bot');
  });

  it('selects the key for copying by hand where the browser offers no clipboard, and shows no webhook secret for a key without one', async () => {
    backend();
    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined });
    await render();
    await fillAndCreate({ name: 'no-hook' });
    await waitFor(() => byTestId('api-key-secret-panel'), 'the secret panel');

    expect(byTestId('api-key-webhook-secret')).toBeNull();
    expect(byTestId('api-key-curl')?.textContent).toContain('"policy": "POLICY_SLUG"');
    await click(byTestId('api-key-token-copy')!);
    expect(window.getSelection()?.toString()).toBe(TOKEN);
    expect(byTestId('api-key-secret-panel')?.textContent).toContain('press Ctrl+C');
  });

  it('shows a 400’s errors beside their fields, keeping everything typed', async () => {
    const server = backend(undefined, () =>
      json(
        {
          error: { code: 'invalid', message: 'rate_limit_per_minute: Ensure this value is greater than or equal to 1.' },
          errors: [
            { field: 'rate_limit_per_minute', message: 'Ensure this value is greater than or equal to 1.', code: 'min_value' },
            { field: 'webhook_url', message: 'Enter a valid URL.', code: 'invalid' },
          ],
        },
        400,
      ),
    );
    await render();

    // The form's own check first: no name, no request.
    await waitFor(() => dom.container.querySelector('option[value="kids"]'), 'the policies');
    await click(byTestId('api-key-create')!);
    expect(byTestId('api-key-name-error')?.textContent).toContain('Give the key a name');
    expect(field('name').getAttribute('aria-invalid')).toBe('true');
    expect(document.activeElement).toBe(field('name'));
    expect(server.bodies).toEqual([]);

    await fillAndCreate({ name: 'kids-app', policy: 'kids', rate: '0', webhook: 'not a url' });
    await waitFor(() => byTestId('api-key-webhook_url-error'), 'the field errors');

    expect(server.bodies).toEqual([{ name: 'kids-app', policy: 'kids', rate_limit_per_minute: 0, webhook_url: 'not a url' }]);
    expect(byTestId('api-key-name-error')).toBeNull();
    expect(byTestId('api-key-rate_limit_per_minute-error')?.textContent).toBe('Ensure this value is greater than or equal to 1.');
    expect(byTestId('api-key-webhook_url-error')?.textContent).toBe('Enter a valid URL.');
    expect(field('webhook_url').getAttribute('aria-invalid')).toBe('true');
    expect(field('webhook_url').getAttribute('aria-describedby')).toBe('api-key-webhook_url-error');
    expect(byTestId('api-key-form-error')?.textContent).toContain('nothing you typed was lost');
    expect(byTestId('api-key-secret-panel')).toBeNull();
    // Nothing typed is lost.
    expect(field('name').value).toBe('kids-app');
    expect(field('policy').value).toBe('kids');
    expect(field('rate_limit_per_minute').value).toBe('0');
    expect(field('webhook_url').value).toBe('not a url');
    expect(document.activeElement).toBe(field('rate_limit_per_minute'));

    // Editing a field takes its error away; the other stays until the next try.
    await typeInto(field('webhook_url'), 'https://hooks.example.com/kids');
    expect(byTestId('api-key-webhook_url-error')).toBeNull();
    expect(field('webhook_url').getAttribute('aria-invalid')).toBeNull();
    expect(byTestId('api-key-rate_limit_per_minute-error')).not.toBeNull();
  });

  it('revokes a key after a confirmation that says its services get 401, and the row turns Revoked', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    await click(byTestId('revoke-1a2b3c4d')!);
    let dialog = dom.container.querySelector<HTMLElement>('[role="dialog"]')!;
    expect(dialog.textContent).toContain('Revoke “chat-service”?');
    expect(byTestId('revoke-warning')?.textContent).toContain('1a2b3c4d');
    expect(byTestId('revoke-warning')?.textContent).toContain('401 Unauthorized');
    await click(buttonNamed('Cancel', dialog)!);
    expect(dom.container.querySelector('[role="dialog"]')).toBeNull();
    expect(server.requests.filter((r) => r.startsWith('POST'))).toEqual([]);

    await click(byTestId('revoke-1a2b3c4d')!);
    dialog = dom.container.querySelector<HTMLElement>('[role="dialog"]')!;
    await click(buttonNamed('Revoke key', dialog)!);
    await waitFor(() => (row('1a2b3c4d')?.dataset.state === 'revoked' ? true : null), 'the revoked row');

    expect(server.requests).toContain('POST /api/v1/api-keys/1a2b3c4d/revoke/');
    expect(dom.container.querySelector('[role="dialog"]')).toBeNull();
    const chat = row('1a2b3c4d')!;
    expect(chat.textContent).toContain('Revoked');
    expect(chat.className).toContain('api-key-row--revoked');
    expect(buttonNamed('Revoke', chat)).toBeNull();
    expect(rows().map((item) => item.dataset.prefix)).toEqual(['55aa66bb', '1a2b3c4d', '9f8e7d6c']);
    expect(byTestId('api-key-notice')?.textContent).toContain('services using it now get 401');
  });

  it('keeps the dialog open with the error when the revoke fails', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => json({ error: { code: 'not_found', message: "no API key with prefix '1a2b3c4d'" } }, 404)),
    );

    await click(byTestId('revoke-1a2b3c4d')!);
    await click(buttonNamed('Revoke key', dom.container.querySelector<HTMLElement>('[role="dialog"]')!)!);
    const dialog = await waitFor(
      () => (dom.container.querySelector('[role="dialog"] [role="alert"]') ? dom.container.querySelector('[role="dialog"]') : null),
      'the error',
    );
    expect(dialog.textContent).toContain("no API key with prefix '1a2b3c4d'");
    expect(row('1a2b3c4d')?.dataset.state).toBe('active');
    expect(server.requests.some((r) => r.includes('revoke'))).toBe(false); // the stub above answered it
  });

  it('shows loading, then an error with a retry, then the empty list', async () => {
    let answerFirst: (answer: Response) => void = () => undefined;
    const first = new Promise<Response>((resolve) => {
      answerFirst = resolve;
    });
    let calls = 0;
    const server = backend([], undefined, () => (++calls === 1 ? first : undefined));
    await render();
    expect(byTestId('api-keys-empty')).toBeNull();
    expect(dom.container.textContent).toContain('Loading API keys…');
    await act(async () => answerFirst(json({ error: { code: 'server_error', message: 'The database is unavailable.' } }, 503)));
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain('Could not load the API keys');
    expect(alert.textContent).toContain('The database is unavailable.');

    await click(buttonNamed('Try again', alert)!);
    const empty = await waitFor(() => byTestId('api-keys-empty'), 'the empty list');
    expect(empty.textContent).toContain('No API keys yet');
    expect(byTestId('api-keys-table')).toBeNull();
    expect(server.requests.filter((r) => r === 'GET /api/v1/api-keys/')).toHaveLength(2);
  });
});

describe('the API keys section', () => {
  async function renderAppAs(user: { roles: string[]; is_superuser: boolean }) {
    const requests = stubFetch((input) => {
      if (input === '/api/v1/auth/me') return json({ username: 'sam', email: '', ...user });
      if (input === '/api/v1/api-keys/') return json([CHAT]);
      if (input === '/api/v1/policies/') return json(POLICIES);
      return undefined;
    });
    await dom.render(
      <MemoryRouter initialEntries={['/api-keys']}>
        <AuthProvider>
          <App />
        </AuthProvider>
      </MemoryRouter>,
    );
    await waitFor(() => byTestId('current-username'), 'the signed-in shell');
    return requests;
  }
  const navLabels = () => [...dom.container.querySelectorAll('nav a')].map((link) => link.textContent);

  it('is in the navigation of a superuser', async () => {
    await renderAppAs({ roles: [], is_superuser: true });
    expect(navLabels()).toContain('API keys');
    await waitFor(() => byTestId('api-keys-table'), 'the keys');
  });

  it('is neither in the navigation nor open to a user holding every role but not a superuser', async () => {
    const requests = await renderAppAs({ roles: ['policy_editor', 'reviewer', 'ml_engineer'], is_superuser: false });
    expect(navLabels()).toEqual(['System status', 'Policies', 'Playground', 'Review', 'Audit', 'Cases', 'Models', 'Training']);
    expect(dom.container.textContent).toContain('Only administrators can open this section.');
    expect(requests).not.toContain('GET /api/v1/api-keys/');
  });
});
