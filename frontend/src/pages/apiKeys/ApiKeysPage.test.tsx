import { act } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';

import { App } from '../../App';
import { AuthProvider } from '../../auth';
import { click, json, setupTestRoot, stubFetch, typeInto } from '../../test/dom';
import type { ApiKey, ApiKeyEvent, CreatedApiKey } from '../../lib/apiKeys';
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
const NEW_WEBHOOK_SECRET = 'abad1dea'.repeat(8);
const ROTATED_SECRET = '5eed'.repeat(16);

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

interface Backend {
  requests: string[];
  bodies: unknown[];
  csrf: (string | undefined)[];
  /** The PATCH bodies, as sent. */
  patches: { prefix: string; body: Record<string, unknown> }[];
  /** Changes a key on the server only, as another administrator would: the page learns it when it asks. */
  behindThePage: (prefix: string, change: Partial<ApiKey>) => void;
  /** Each key's history, newest first, as the server records it (this backend's own changes included). */
  events: Record<string, ApiKeyEvent[]>;
  /** Answers `GET .../events/` instead of the history while it returns a response. */
  eventsAnswer: ((prefix: string) => Response | Promise<Response> | undefined) | null;
}

const AUDITED = ['name', 'policy', 'rate_limit_per_minute', 'webhook_url'] as const;

/** The history a key starts with: made (by whom it says), and revoked by "admin" when it is revoked. */
function initialEvents(key: ApiKey): ApiKeyEvent[] {
  const changes: ApiKeyEvent['changes'] = {};
  const blank: ApiKey = { ...key, name: '', policy: null, rate_limit_per_minute: null, webhook_url: '' };
  for (const field of AUDITED) if (key[field] !== blank[field]) changes[field] = [blank[field], key[field]];
  const created: ApiKeyEvent = { kind: 'created', actor: key.created_by, changes, created_at: key.created_at };
  return key.revoked_at ? [{ kind: 'revoked', actor: 'admin', changes: {}, created_at: key.revoked_at }, created] : [created];
}

/**
 * A fake backend with the keys `initial`; creating answers `createAnswer(body)` (and lists the key
 * made from then on), revoking marks the key revoked. A PATCH answers `patchAnswer(prefix, body)`
 * when it gives one, else changes the key as the server does (a key gaining a webhook gets
 * `NEW_WEBHOOK_SECRET`); rotating answers `ROTATED_SECRET`. Both answer 409 for a revoked key.
 */
function backend(
  initial: ApiKey[] = [CHAT, OLD_BOT, BATCH],
  createAnswer?: (body: Record<string, unknown>) => Response,
  listAnswer?: () => Promise<Response | undefined> | Response | undefined,
  patchAnswer?: (prefix: string, body: Record<string, unknown>) => Response | undefined,
): Backend {
  let keys = [...initial];
  const bodies: unknown[] = [];
  const csrf: (string | undefined)[] = [];
  const patches: Backend['patches'] = [];
  const revokedAnswer = (prefix: string) => json({ error: { code: 'revoked', message: `API key ${prefix} is revoked` } }, 409);
  const events: Record<string, ApiKeyEvent[]> = Object.fromEntries(initial.map((key) => [key.prefix, initialEvents(key)]));
  const record = (prefix: string, kind: ApiKeyEvent['kind'], changes: ApiKeyEvent['changes'] = {}) => {
    events[prefix] = [{ kind, actor: 'admin', changes, created_at: new Date().toISOString() }, ...(events[prefix] ?? [])];
  };
  const requests = stubFetch((input, init) => {
    const method = init.method ?? 'GET';
    const history = /^\/api\/v1\/api-keys\/([^/]+)\/events\/$/.exec(input);
    if (history && method === 'GET') {
      const answer = server.eventsAnswer?.(history[1]);
      if (answer) return answer;
      const found = events[history[1]];
      return found ? json(found) : json({ error: { code: 'not_found', message: `no API key with prefix '${history[1]}'` } }, 404);
    }
    const one = /^\/api\/v1\/api-keys\/([^/]+)\/$/.exec(input);
    if (one && method === 'PATCH') {
      const body = JSON.parse(init.body as string) as Record<string, unknown>;
      patches.push({ prefix: one[1], body });
      csrf.push((init.headers as Record<string, string>)['X-CSRFToken']);
      const answer = patchAnswer?.(one[1], body);
      if (answer) return answer;
      const found = keys.find((key) => key.prefix === one[1]);
      if (!found) return json({ error: { code: 'not_found', message: `no API key with prefix '${one[1]}'` } }, 404);
      if (found.revoked_at) return revokedAnswer(found.prefix);
      const changed = { ...found, ...body } as ApiKey;
      keys = keys.map((key) => (key.prefix === changed.prefix ? changed : key));
      const diff: ApiKeyEvent['changes'] = {};
      for (const field of AUDITED) if (found[field] !== changed[field]) diff[field] = [found[field], changed[field]];
      record(changed.prefix, 'updated', diff);
      const gained = !found.webhook_url && changed.webhook_url;
      return json({ ...changed, ...(gained ? { webhook_secret: NEW_WEBHOOK_SECRET } : {}) });
    }
    const rotate = /^\/api\/v1\/api-keys\/([^/]+)\/rotate-webhook-secret\/$/.exec(input);
    if (rotate && method === 'POST') {
      csrf.push((init.headers as Record<string, string>)['X-CSRFToken']);
      const found = keys.find((key) => key.prefix === rotate[1])!;
      if (found.revoked_at) return revokedAnswer(found.prefix);
      if (!found.webhook_url) return json({ error: { code: 'no_webhook', message: 'this API key has no webhook to sign' } }, 409);
      record(found.prefix, 'webhook_secret_rotated');
      return json({ ...found, webhook_secret: ROTATED_SECRET });
    }
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
      events[listed.prefix] = initialEvents(listed);
      return json(made, 201);
    }
    const revoke = /^\/api\/v1\/api-keys\/([^/]+)\/revoke\/$/.exec(input);
    if (revoke && method === 'POST') {
      const found = keys.find((key) => key.prefix === revoke[1]);
      if (!found) return json({ error: { code: 'not_found', message: `no API key with prefix '${revoke[1]}'` } }, 404);
      const revoked = { ...found, revoked_at: found.revoked_at ?? new Date().toISOString() };
      keys = keys.map((key) => (key.prefix === revoked.prefix ? revoked : key));
      if (!found.revoked_at) record(found.prefix, 'revoked');
      return json(revoked);
    }
    return undefined;
  });
  const behindThePage = (prefix: string, change: Partial<ApiKey>) => {
    keys = keys.map((key) => (key.prefix === prefix ? { ...key, ...change } : key));
  };
  const server: Backend = { requests, bodies, csrf, patches, behindThePage, events, eventsAnswer: null };
  return server;
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

describe('editing a key', () => {
  const dialog = () => dom.container.querySelector<HTMLElement>('[role="dialog"]');
  const editField = (name: string) => byTestId(`api-key-edit-${name}`) as HTMLInputElement;
  const patchRequests = (server: Backend) => server.requests.filter((r) => r.startsWith('PATCH'));

  async function openEdit(prefix: string) {
    await waitFor(() => dom.container.querySelector('option[value="core-safety"]'), 'the policies');
    await click(byTestId(`edit-${prefix}`)!);
    return waitFor(() => byTestId('api-key-edit'), 'the edit form');
  }

  it('opens filled in with the key, sends only what changed, and the row changes in place', async () => {
    let lists = 0;
    // The list read after the save never answers: the row shows the PATCH's answer, not a new list.
    const server = backend(undefined, undefined, () => (++lists > 1 ? new Promise<Response>(() => undefined) : undefined));
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    const button = byTestId('edit-1a2b3c4d')!;
    expect(button.getAttribute('aria-label')).toBe('Edit chat-service (1a2b3c4d)');
    expect(buttonNamed('Edit', row('9f8e7d6c')!)).toBeNull(); // a revoked key cannot be changed
    const form = await openEdit('1a2b3c4d');
    expect(form.getAttribute('role')).toBe('dialog');
    expect(form.textContent).toContain('Edit “chat-service”');
    expect(editField('name').value).toBe('chat-service');
    expect(editField('policy').value).toBe('core-safety');
    expect(editField('rate_limit_per_minute').value).toBe('600');
    expect(editField('webhook_url').value).toBe(CHAT.webhook_url);
    expect(document.activeElement).toBe(editField('name'));

    // Spaces around the name are no change; the policy taken away and the rate are.
    await typeInto(editField('name'), '  chat-service ');
    await choose(editField('policy'), '');
    await typeInto(editField('rate_limit_per_minute'), '120');
    await click(byTestId('api-key-edit-save')!);
    await waitFor(() => (dialog() ? null : true), 'the form to close');

    expect(server.patches).toEqual([{ prefix: '1a2b3c4d', body: { policy: null, rate_limit_per_minute: 120 } }]);
    expect(server.csrf).toEqual(['csrf-123']);
    const cells = [...row('1a2b3c4d')!.querySelectorAll('th, td')].map((cell) => cell.textContent);
    expect(cells.slice(0, 5)).toEqual(['chat-service', '1a2b3c4d', 'none', '120 / min', CHAT.webhook_url]);
    expect(byTestId('api-key-notice')?.textContent).toBe(
      'Saved the policy and rate limit of “chat-service” (1a2b3c4d): its next call sees the change.',
    );
    expect(byTestId('api-key-secret-panel')).toBeNull();
    expect(document.activeElement).toBe(byTestId('edit-1a2b3c4d'));
    expect(lists).toBe(2); // the list is read again
  });

  it('says when nothing changed, and asks nothing of the server', async () => {
    const server = backend();
    await render();
    await openEdit('55aa66bb');
    expect(byTestId('api-key-edit-status')?.textContent).toBe('');

    await click(byTestId('api-key-edit-save')!);
    expect(byTestId('api-key-edit-status')?.textContent).toBe('Nothing changed: there is nothing to save.');
    // A value changed and changed back is no change either.
    await typeInto(editField('rate_limit_per_minute'), '121');
    expect(byTestId('api-key-edit-status')?.textContent).toBe('');
    await typeInto(editField('rate_limit_per_minute'), '120');
    await typeInto(editField('webhook_url'), '   ');
    await click(byTestId('api-key-edit-save')!);
    expect(byTestId('api-key-edit-status')?.textContent).toBe('Nothing changed: there is nothing to save.');
    expect(patchRequests(server)).toEqual([]);
    expect(dialog()).not.toBeNull();

    // Cancel (or Escape) closes it, and the Edit button has the focus again.
    await click(buttonNamed('Cancel', dialog()!)!);
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(byTestId('edit-55aa66bb'));
  });

  it('shows the form’s own errors and a 400’s beside their fields, keeping everything typed', async () => {
    const server = backend(undefined, undefined, undefined, () =>
      json(
        {
          error: { code: 'invalid', message: 'name: Ensure this field has no more than 100 characters.' },
          errors: [
            { field: 'name', message: 'Ensure this field has no more than 100 characters.', code: 'max_length' },
            { field: 'webhook_url', message: 'must be an http:// or https:// URL', code: 'invalid' },
          ],
        },
        400,
      ),
    );
    await render();
    await openEdit('1a2b3c4d');

    // A key keeps a rate of its own: emptying it is refused before asking.
    await typeInto(editField('rate_limit_per_minute'), '');
    await typeInto(editField('name'), ' ');
    await click(byTestId('api-key-edit-save')!);
    expect(byTestId('api-key-edit-name-error')?.textContent).toContain('Give the key a name');
    expect(byTestId('api-key-edit-rate_limit_per_minute-error')?.textContent).toBe('Enter a whole number of requests per minute.');
    expect(document.activeElement).toBe(editField('name'));
    expect(patchRequests(server)).toEqual([]);

    const long = 'x'.repeat(101);
    await typeInto(editField('name'), long);
    await typeInto(editField('rate_limit_per_minute'), '600');
    await typeInto(editField('webhook_url'), 'ftp://hooks.example.com/x');
    await click(byTestId('api-key-edit-save')!);
    await waitFor(() => byTestId('api-key-edit-webhook_url-error'), 'the field errors');

    expect(server.patches).toEqual([{ prefix: '1a2b3c4d', body: { name: long, webhook_url: 'ftp://hooks.example.com/x' } }]);
    expect(byTestId('api-key-edit-name-error')?.textContent).toBe('Ensure this field has no more than 100 characters.');
    expect(byTestId('api-key-edit-webhook_url-error')?.textContent).toBe('must be an http:// or https:// URL');
    expect(byTestId('api-key-edit-rate_limit_per_minute-error')).toBeNull();
    expect(editField('webhook_url').getAttribute('aria-invalid')).toBe('true');
    expect(editField('webhook_url').getAttribute('aria-describedby')).toBe('api-key-edit-webhook_url-error');
    expect(byTestId('api-key-edit-error')?.textContent).toContain('nothing you typed was lost');
    expect(editField('name').value).toBe(long);
    expect(editField('policy').value).toBe('core-safety');
    expect(editField('rate_limit_per_minute').value).toBe('600');
    expect(editField('webhook_url').value).toBe('ftp://hooks.example.com/x');
    expect(document.activeElement).toBe(editField('name'));
    expect(row('1a2b3c4d')?.querySelector('th')?.textContent).toBe('chat-service'); // the row is unchanged
    // The create form's fields are not the edit form's.
    expect(byTestId('api-key-name-error')).toBeNull();
  });

  it('shows the secret of a key that gains a webhook once, in the one-time panel, and Done forgets it', async () => {
    const server = backend();
    await render();
    await openEdit('55aa66bb');
    await typeInto(editField('webhook_url'), ' https://hooks.example.com/batch ');
    expect(dialog()?.textContent).toContain('its signing secret is shown once, after saving');
    await click(byTestId('api-key-edit-save')!);
    const panel = await waitFor(() => byTestId('api-key-secret-panel'), 'the secret panel');

    expect(server.patches).toEqual([{ prefix: '55aa66bb', body: { webhook_url: 'https://hooks.example.com/batch' } }]);
    expect(dialog()).toBeNull();
    expect(panel.dataset.kind).toBe('webhook-added');
    expect(panel.querySelector('h2')?.textContent).toBe('Webhook secret for “batch-import”');
    expect(document.activeElement).toBe(panel.querySelector('h2'));
    expect(byTestId('api-key-webhook-secret')?.textContent).toBe(NEW_WEBHOOK_SECRET);
    expect(byTestId('api-key-once-note')?.textContent).toContain('it will not be shown again');
    expect(panel.textContent).toContain('https://hooks.example.com/batch');
    expect(byTestId('api-key-token')).toBeNull(); // the API key itself is not shown: it did not change
    expect(byTestId('api-key-curl')).toBeNull();
    expect(row('55aa66bb')?.querySelector('.api-key-webhook')?.textContent).toBe('https://hooks.example.com/batch');
    expect(byTestId('api-keys-table')?.textContent).not.toContain(NEW_WEBHOOK_SECRET);
    // No second secret can be made over this one until Done.
    expect((byTestId('edit-1a2b3c4d') as HTMLButtonElement).disabled).toBe(true);
    expect((byTestId('rotate-55aa66bb') as HTMLButtonElement).disabled).toBe(true);
    expect((byTestId('api-key-create') as HTMLButtonElement).disabled).toBe(true);

    await click(byTestId('api-key-done')!);
    expect(byTestId('api-key-secret-panel')).toBeNull();
    expect(dom.container.textContent).not.toContain(NEW_WEBHOOK_SECRET);
    expect((byTestId('edit-1a2b3c4d') as HTMLButtonElement).disabled).toBe(false);
  });

  it('asks before removing a webhook, saying pending deliveries will not be sent', async () => {
    const server = backend();
    await render();
    await openEdit('1a2b3c4d');
    await typeInto(editField('webhook_url'), '');
    expect(dialog()?.textContent).toContain('Saving removes the webhook');
    await click(byTestId('api-key-edit-save')!);

    let confirm = dialog()!;
    expect(confirm.textContent).toContain('Remove the webhook of “chat-service”?');
    expect(byTestId('remove-webhook-warning')?.textContent).toContain('Pending deliveries for this key will not be sent.');
    expect(patchRequests(server)).toEqual([]);

    // Cancel goes back to the form, as it was typed.
    await click(buttonNamed('Cancel', confirm)!);
    expect(byTestId('api-key-edit')).not.toBeNull();
    expect(editField('webhook_url').value).toBe('');
    expect(document.activeElement).toBe(editField('webhook_url'));
    expect(patchRequests(server)).toEqual([]);

    await typeInto(editField('name'), 'chat');
    await click(byTestId('api-key-edit-save')!);
    confirm = dialog()!;
    await click(buttonNamed('Remove webhook and save', confirm)!);
    await waitFor(() => (dialog() ? null : true), 'the dialog to close');

    expect(server.patches).toEqual([{ prefix: '1a2b3c4d', body: { name: 'chat', webhook_url: '' } }]);
    const chat = row('1a2b3c4d')!;
    expect(chat.querySelector('th')?.textContent).toBe('chat');
    expect(chat.querySelector('.api-key-webhook')?.textContent).toBe('none');
    expect(byTestId('rotate-1a2b3c4d')).toBeNull(); // no webhook, no secret to rotate
    expect(byTestId('api-key-notice')?.textContent).toBe(
      'Saved the name of “chat” (1a2b3c4d): its next call sees the change. Its webhook is removed: pending deliveries will not be sent.',
    );
    expect(byTestId('api-key-secret-panel')).toBeNull();
  });

  it('says so when the key was revoked meanwhile, and shows the row revoked', async () => {
    const server = backend();
    await render();
    await openEdit('1a2b3c4d');
    server.behindThePage('1a2b3c4d', { revoked_at: '2026-12-08T09:00:00Z' });
    await typeInto(editField('rate_limit_per_minute'), '60');
    await click(byTestId('api-key-edit-save')!);
    const alert = await waitFor(() => byTestId('api-key-row-alert'), 'the message');

    expect(server.patches).toEqual([{ prefix: '1a2b3c4d', body: { rate_limit_per_minute: 60 } }]);
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toContain('“chat-service” (1a2b3c4d) was revoked meanwhile, so it cannot be changed');
    expect(document.activeElement).toBe(alert);
    expect(dialog()).toBeNull();
    await waitFor(() => (row('1a2b3c4d')?.dataset.state === 'revoked' ? true : null), 'the row read again');
    expect(row('1a2b3c4d')?.textContent).toContain('600 / min');
    expect(byTestId('edit-1a2b3c4d')).toBeNull();
  });
});

describe('rotating a webhook secret', () => {
  const dialog = () => dom.container.querySelector<HTMLElement>('[role="dialog"]');

  it('is offered for active keys with a webhook, asks first, and shows the new secret once', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    expect(byTestId('rotate-55aa66bb')).toBeNull(); // no webhook
    expect(buttonNamed('Rotate secret', row('9f8e7d6c')!)).toBeNull(); // revoked
    const button = byTestId('rotate-1a2b3c4d')!;
    expect(button.textContent).toBe('Rotate secret');
    expect(button.getAttribute('aria-label')).toBe('Rotate secret of chat-service (1a2b3c4d)');
    expect([...row('1a2b3c4d')!.querySelectorAll('button')].map((item) => item.textContent)).toEqual([
      'Edit',
      'Rotate secret',
      'History',
      'Revoke',
    ]);

    await click(button);
    let confirm = dialog()!;
    expect(confirm.textContent).toContain('Rotate the webhook secret of “chat-service”?');
    const warning = byTestId('rotate-warning')!.textContent;
    expect(warning).toContain('Every delivery from now on, pending ones included, is signed with the new secret');
    expect(warning).toContain(CHAT.webhook_url);
    expect(warning).toContain('accept both secrets while you switch');
    await click(buttonNamed('Cancel', confirm)!);
    expect(dialog()).toBeNull();
    expect(server.requests.filter((r) => r.includes('rotate'))).toEqual([]);

    await click(button);
    confirm = dialog()!;
    await click(buttonNamed('Rotate secret', confirm)!);
    const panel = await waitFor(() => byTestId('api-key-secret-panel'), 'the secret panel');

    expect(server.requests).toContain('POST /api/v1/api-keys/1a2b3c4d/rotate-webhook-secret/');
    expect(server.csrf).toEqual(['csrf-123']);
    expect(dialog()).toBeNull();
    expect(panel.dataset.kind).toBe('webhook-rotated');
    expect(panel.querySelector('h2')?.textContent).toBe('Webhook secret for “chat-service”');
    expect(byTestId('api-key-webhook-secret')?.textContent).toBe(ROTATED_SECRET);
    expect(byTestId('api-key-once-note')?.textContent).toContain('pending ones included');
    expect(byTestId('api-key-token')).toBeNull();
    expect(byTestId('api-key-curl')).toBeNull();
    expect(document.activeElement).toBe(panel.querySelector('h2'));

    await click(byTestId('api-key-done')!);
    expect(byTestId('api-key-secret-panel')).toBeNull();
    expect(dom.container.textContent).not.toContain(ROTATED_SECRET);
  });

  it('says so when the key was revoked meanwhile', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    server.behindThePage('1a2b3c4d', { revoked_at: '2026-12-08T09:00:00Z' });
    await click(byTestId('rotate-1a2b3c4d')!);
    await click(buttonNamed('Rotate secret', dialog()!)!);
    const alert = await waitFor(() => byTestId('api-key-row-alert'), 'the message');
    expect(alert.textContent).toContain('“chat-service” (1a2b3c4d) was revoked meanwhile, so it cannot be rotated');
    expect(dialog()).toBeNull();
    expect(byTestId('api-key-secret-panel')).toBeNull();
    await waitFor(() => (row('1a2b3c4d')?.dataset.state === 'revoked' ? true : null), 'the row read again');
  });

  it('says so when the key lost its webhook meanwhile', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    server.behindThePage('1a2b3c4d', { webhook_url: '' });
    await click(byTestId('rotate-1a2b3c4d')!);
    await click(buttonNamed('Rotate secret', dialog()!)!);
    const alert = await waitFor(() => byTestId('api-key-row-alert'), 'the message');
    expect(alert.textContent).toContain('has no webhook any more, so it has no secret to rotate');
    await waitFor(() => (byTestId('rotate-1a2b3c4d') ? null : true), 'the row read again');
    expect(row('1a2b3c4d')?.querySelector('.api-key-webhook')?.textContent).toBe('none');
  });
});

describe('a key’s history', () => {
  const dialog = () => byTestId('api-key-history');
  const lines = () => [...dom.container.querySelectorAll('[data-testid="api-key-history-line"]')].map((line) => line.textContent);
  const historyRequests = (server: Backend, prefix: string) =>
    server.requests.filter((r) => r === `GET /api/v1/api-keys/${prefix}/events/`);

  async function openHistory(prefix: string) {
    await click(byTestId(`history-${prefix}`)!);
    const shown = () => byTestId('api-key-history-list') ?? byTestId('api-key-history-empty') ?? dialog()?.querySelector('[role="alert"]');
    await waitFor(shown, 'the history');
    return dialog()!;
  }

  it('opens from a key’s row, reads its events and shows them newest first, each with its time', async () => {
    const server = backend();
    server.events['1a2b3c4d'].unshift(
      { kind: 'revoked', actor: null, changes: {}, created_at: '2026-12-06T09:00:00Z' },
      { kind: 'webhook_secret_rotated', actor: 'lead', changes: {}, created_at: '2026-12-05T09:00:00Z' },
      {
        kind: 'updated',
        actor: 'lead',
        changes: { rate_limit_per_minute: [600, 5], name: ['svc', 'chat-service'] },
        created_at: '2026-12-04T09:00:00Z',
      },
    );
    let answer: (response: Response) => void = () => undefined;
    server.eventsAnswer = () =>
      new Promise<Response>((resolve) => {
        answer = resolve;
      });
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    const button = byTestId('history-1a2b3c4d')!;
    expect(button.textContent).toBe('History');
    expect(button.getAttribute('aria-label')).toBe('History of chat-service (1a2b3c4d)');
    await click(button);
    const opened = dialog()!;
    expect(opened.getAttribute('role')).toBe('dialog');
    expect(opened.getAttribute('aria-modal')).toBe('true');
    expect(opened.textContent).toContain('History of “chat-service”');
    expect(opened.textContent).toContain('Loading the history…');
    expect(document.activeElement).toBe(buttonNamed('Close', opened));
    expect(historyRequests(server, '1a2b3c4d')).toHaveLength(1);

    server.eventsAnswer = null;
    await act(async () => answer(json(server.events['1a2b3c4d'])));
    await waitFor(() => byTestId('api-key-history-list'), 'the events');
    expect(opened.textContent).not.toContain('Loading');
    expect(lines()).toEqual([
      'Revoked from the command line',
      'Webhook secret rotated by lead',
      'Changed by lead — name svc → chat-service; rate limit 600 → 5 / min',
      `Created by admin — name chat-service, policy core-safety, 600 / min, webhook ${CHAT.webhook_url}`,
    ]);
    const times = [...opened.querySelectorAll('time')];
    expect(times.map((time) => time.textContent)).toEqual(
      ['2026-12-06T09:00:00Z', '2026-12-05T09:00:00Z', '2026-12-04T09:00:00Z', CHAT.created_at].map((iso) =>
        new Date(iso).toLocaleString(),
      ),
    );
    expect(times[0].getAttribute('datetime')).toBe('2026-12-06T09:00:00Z');

    // Escape closes it, and the focus goes back to the row's button.
    await act(async () => {
      document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    });
    expect(dialog()).toBeNull();
    expect(document.activeElement).toBe(button);

    // A key made from the command line, without a policy or a webhook.
    await openHistory('55aa66bb');
    expect(lines()).toEqual(['Created from the command line — name batch-import, policy none, 120 / min, webhook none']);
    await click(buttonNamed('Close', dialog()!)!);
    expect(dialog()).toBeNull();
    expect(server.requests.filter((r) => r.startsWith('POST') || r.startsWith('PATCH'))).toEqual([]);
  });

  it('is offered on a revoked key’s row too', async () => {
    const server = backend();
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    const old = row('9f8e7d6c')!;
    expect([...old.querySelectorAll('button')].map((item) => item.getAttribute('aria-label'))).toEqual([
      'History of old-bot (9f8e7d6c)',
    ]);
    await openHistory('9f8e7d6c');
    expect(historyRequests(server, '9f8e7d6c')).toHaveLength(1);
    expect(lines()).toEqual(['Revoked by admin', 'Created by admin — name old-bot, policy core-safety, 600 / min, webhook none']);
  });

  it('shows an error with a retry, and says when nothing is recorded', async () => {
    const server = backend();
    let calls = 0;
    server.eventsAnswer = () =>
      ++calls === 1 ? json({ error: { code: 'server_error', message: 'The database is unavailable.' } }, 503) : undefined;
    server.events['55aa66bb'] = [];
    await render();
    await waitFor(() => byTestId('api-keys-table'), 'the keys');

    const opened = await openHistory('55aa66bb');
    const alert = opened.querySelector<HTMLElement>('[role="alert"]')!;
    expect(alert.textContent).toContain('Could not load the history');
    expect(alert.textContent).toContain('The database is unavailable.');
    expect(byTestId('api-key-history-list')).toBeNull();

    await click(buttonNamed('Try again', alert)!);
    const empty = await waitFor(() => byTestId('api-key-history-empty'), 'the empty history');
    expect(empty.textContent).toContain('Nothing is recorded for this key');
    expect(opened.querySelector('[role="alert"]')).toBeNull();
    expect(historyRequests(server, '55aa66bb')).toHaveLength(2);
  });

  it('is read again when it opens, so that it shows what the page just changed, rotated or revoked', async () => {
    const server = backend();
    await render();
    await waitFor(() => dom.container.querySelector('option[value="core-safety"]'), 'the policies');

    await openHistory('1a2b3c4d');
    expect(lines()).toHaveLength(1);
    await click(buttonNamed('Close', dialog()!)!);

    await click(byTestId('edit-1a2b3c4d')!);
    await typeInto(byTestId('api-key-edit-rate_limit_per_minute') as HTMLInputElement, '45');
    await click(byTestId('api-key-edit-save')!);
    await waitFor(() => (byTestId('api-key-edit') ? null : true), 'the edit form to close');
    await openHistory('1a2b3c4d');
    expect(lines()[0]).toBe('Changed by admin — rate limit 600 → 45 / min');
    await click(buttonNamed('Close', dialog()!)!);

    await click(byTestId('rotate-1a2b3c4d')!);
    await click(buttonNamed('Rotate secret', dom.container.querySelector<HTMLElement>('[role="dialog"]')!)!);
    await waitFor(() => byTestId('api-key-secret-panel'), 'the secret panel');
    await click(byTestId('api-key-done')!);
    await openHistory('1a2b3c4d');
    expect(lines()[0]).toBe('Webhook secret rotated by admin');
    await click(buttonNamed('Close', dialog()!)!);

    await click(byTestId('revoke-1a2b3c4d')!);
    await click(buttonNamed('Revoke key', dom.container.querySelector<HTMLElement>('[role="dialog"]')!)!);
    await waitFor(() => (row('1a2b3c4d')?.dataset.state === 'revoked' ? true : null), 'the revoked row');
    await openHistory('1a2b3c4d');
    expect(lines()).toEqual([
      'Revoked by admin',
      'Webhook secret rotated by admin',
      'Changed by admin — rate limit 600 → 45 / min',
      `Created by admin — name chat-service, policy core-safety, 600 / min, webhook ${CHAT.webhook_url}`,
    ]);
    expect(historyRequests(server, '1a2b3c4d')).toHaveLength(4);
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
