import { describe, expect, it } from 'vitest';

import {
  ApiError,
  createApiClient,
  errorFromResponse,
  fetchCurrentUser,
  fetchReadiness,
  login,
  readCookie,
  type FetchLike,
} from './api';

interface RecordedCall {
  input: string;
  init: RequestInit;
}

/** A fake `fetch`: answers every call with `respond()` and records what it was asked. */
function makeFakeFetch(respond: (call: RecordedCall) => Response | Promise<Response>) {
  const calls: RecordedCall[] = [];
  const fakeFetch: FetchLike = async (input, init) => {
    const call = { input, init };
    calls.push(call);
    return respond(call);
  };
  return { fakeFetch, calls };
}

const json = (body: unknown, status = 200, statusText = '') =>
  new Response(JSON.stringify(body), { status, statusText, headers: { 'Content-Type': 'application/json' } });

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected the promise to reject');
}

describe('errorFromResponse', () => {
  it('reads the code and message of a JSON error body', async () => {
    const error = await errorFromResponse(
      json({ error: { code: 'invalid_credentials', message: 'Wrong username or password.' } }, 400),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_credentials');
    expect(error.message).toBe('Wrong username or password.');
    expect(error.errors).toEqual([]);
  });

  it('keeps the validation errors of a 400, with line, path, row and field', async () => {
    const error = await errorFromResponse(
      json(
        {
          error: { code: 'invalid_policy', message: 'The policy has 2 errors.' },
          errors: [
            { line: 12, path: 'rules[0].action', message: 'Unknown action "nuke".' },
            { field: 'slug', message: 'This field is required.', code: 'required' },
            { row: 2, field: 'label', message: "must be safe or unsafe, not 'maybe'" },
            'not an object',
          ],
        },
        400,
      ),
    );
    expect(error.code).toBe('invalid_policy');
    expect(error.errors).toEqual([
      { line: 12, path: 'rules[0].action', message: 'Unknown action "nuke".' },
      { field: 'slug', message: 'This field is required.', code: 'required' },
      { row: 2, field: 'label', message: "must be safe or unsafe, not 'maybe'" },
    ]);
  });

  it('gives a readable message for a body that is not JSON', async () => {
    const error = await errorFromResponse(
      new Response('<html><body>Bad Gateway</body></html>', { status: 502, headers: { 'Content-Type': 'text/html' } }),
    );
    expect(error.status).toBe(502);
    expect(error.code).toBe('http_502');
    expect(error.message).toBe('HTTP 502');
  });

  it('adds the status text when there is one', async () => {
    const error = await errorFromResponse(new Response('', { status: 503, statusText: 'Service Unavailable' }));
    expect(error.message).toBe('HTTP 503 Service Unavailable');
  });

  it('falls back for JSON that is not the error shape, and reads DRF detail', async () => {
    expect((await errorFromResponse(json([1, 2], 500))).message).toBe('HTTP 500');
    expect((await errorFromResponse(json({ detail: 'Not found.' }, 404))).message).toBe('Not found.');
    expect((await errorFromResponse(json({ error: { code: 'x' } }, 409))).message).toBe('HTTP 409');
  });
});

describe('the API client', () => {
  it('sends JSON with the session cookie and the CSRF token on a POST', async () => {
    const { fakeFetch, calls } = makeFakeFetch(() => json({ ok: true }));
    const client = createApiClient({ fetch: fakeFetch, csrfToken: () => 'tok123' });

    expect(await client.post('/api/v1/things', { name: 'a' })).toEqual({ ok: true });

    const [{ input, init }] = calls;
    expect(input).toBe('/api/v1/things');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect(init.body).toBe('{"name":"a"}');
    const headers = init.headers as Record<string, string>;
    expect(headers['Content-Type']).toBe('application/json');
    expect(headers['X-CSRFToken']).toBe('tok123');
  });

  it('sends a FormData body as it is, with the CSRF token and no Content-Type of its own', async () => {
    const { fakeFetch, calls } = makeFakeFetch(() => json({ imported: 1 }, 201));
    const client = createApiClient({ fetch: fakeFetch, csrfToken: () => 'tok123' });
    const form = new FormData();
    form.append('file', new File(['prompt,label\nhi,safe\n'], 'cases.csv', { type: 'text/csv' }));

    expect(await client.post('/api/v1/cases/import/', form)).toEqual({ imported: 1 });

    const headers = calls[0].init.headers as Record<string, string>;
    expect(calls[0].init.body).toBe(form);
    expect(headers['Content-Type']).toBeUndefined(); // the browser adds multipart/form-data with its boundary
    expect(headers['X-CSRFToken']).toBe('tok123');
  });

  it('sends no CSRF header on a GET', async () => {
    const { fakeFetch, calls } = makeFakeFetch(() => json({}));
    const client = createApiClient({ fetch: fakeFetch, csrfToken: () => 'tok123' });
    await client.get('/api/v1/things');
    expect(calls[0].init.method).toBe('GET');
    expect(calls[0].init.credentials).toBe('same-origin');
    expect((calls[0].init.headers as Record<string, string>)['X-CSRFToken']).toBeUndefined();
  });

  it('reads the CSRF token from the csrftoken cookie by default', async () => {
    document.cookie = 'other=1';
    document.cookie = 'csrftoken=fromcookie';
    const { fakeFetch, calls } = makeFakeFetch(() => new Response(null, { status: 204 }));
    const client = createApiClient({ fetch: fakeFetch });
    expect(await client.post('/api/v1/auth/logout')).toBeUndefined();
    expect((calls[0].init.headers as Record<string, string>)['X-CSRFToken']).toBe('fromcookie');
    expect(calls[0].init.body).toBeUndefined();
  });

  it('throws an ApiError for a non-2xx answer', async () => {
    const { fakeFetch } = makeFakeFetch(() =>
      json({ error: { code: 'permission_denied', message: 'You may not.' } }, 403),
    );
    const error = await caught(createApiClient({ fetch: fakeFetch }).get('/api/v1/x'));
    expect(error.status).toBe(403);
    expect(error.code).toBe('permission_denied');
    expect(error.message).toBe('You may not.');
  });

  it('turns a network failure into an ApiError', async () => {
    const { fakeFetch } = makeFakeFetch(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await caught(createApiClient({ fetch: fakeFetch }).get('/api/v1/x'));
    expect(error.code).toBe('network_error');
    expect(error.message).toContain('Could not reach the server');
  });

  it('rejects a 2xx answer whose body is not JSON', async () => {
    const { fakeFetch } = makeFakeFetch(() => new Response('<html></html>', { status: 200 }));
    const error = await caught(createApiClient({ fetch: fakeFetch }).get('/api/v1/x'));
    expect(error.code).toBe('invalid_response');
  });

  it('answers with the status and headers as well as the body when asked, and a 204 still has no body', async () => {
    const { fakeFetch } = makeFakeFetch(() => new Response(null, { status: 204, headers: { 'X-Review-Skipped': '3' } }));
    const client = createApiClient({ fetch: fakeFetch, csrfToken: () => null });
    const answer = await client.requestWithHeaders('POST', '/api/v1/review/next/');
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    expect(answer.headers.get('X-Review-Skipped')).toBe('3');
    expect(await client.post('/api/v1/review/next/')).toBeUndefined();

    const { fakeFetch: jsonFetch } = makeFakeFetch(() => json({ item: { id: 1 } }));
    const withBody = await createApiClient({ fetch: jsonFetch }).requestWithHeaders('POST', '/api/v1/review/next/');
    expect(withBody).toMatchObject({ status: 200, body: { item: { id: 1 } } });
  });

  it('throws the same ApiError from the headers-returning request as from the plain one', async () => {
    const { fakeFetch } = makeFakeFetch(() => json({ error: { code: 'permission_denied', message: 'You may not.' } }, 403));
    const error = await caught(createApiClient({ fetch: fakeFetch }).requestWithHeaders('POST', '/api/v1/x'));
    expect(error.status).toBe(403);
    expect(error.code).toBe('permission_denied');
  });

  it('tells its listeners about a 401, and only a 401', async () => {
    let status = 401;
    const { fakeFetch } = makeFakeFetch(() => json({ error: { code: 'not_authenticated', message: 'Log in.' } }, status));
    const client = createApiClient({ fetch: fakeFetch });
    const seen: string[] = [];
    const unsubscribe = client.onUnauthorized((error) => seen.push(error.code));

    await caught(client.get('/api/v1/x'));
    status = 403;
    await caught(client.get('/api/v1/x'));
    unsubscribe();
    status = 401;
    await caught(client.get('/api/v1/x'));

    expect(seen).toEqual(['not_authenticated']);
  });
});

describe('endpoint helpers', () => {
  const userBody = { username: 'ada', email: 'ada@example.com', roles: ['reviewer'], is_superuser: false };

  it('logs in and returns the user', async () => {
    const { fakeFetch, calls } = makeFakeFetch(() => json(userBody));
    const user = await login('ada', 's3cret', createApiClient({ fetch: fakeFetch, csrfToken: () => null }));
    expect(user).toEqual(userBody);
    expect(calls[0].input).toBe('/api/v1/auth/login');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ username: 'ada', password: 's3cret' });
  });

  it('surfaces bad credentials as an ApiError with the server message', async () => {
    const { fakeFetch } = makeFakeFetch(() =>
      json({ error: { code: 'invalid_credentials', message: 'Wrong username or password.' } }, 400),
    );
    const error = await caught(login('ada', 'nope', createApiClient({ fetch: fakeFetch })));
    expect(error.message).toBe('Wrong username or password.');
  });

  it.each([401, 403])('treats %i from /auth/me as signed out', async (status) => {
    const { fakeFetch } = makeFakeFetch(() => json({ error: { code: 'not_authenticated', message: 'x' } }, status));
    expect(await fetchCurrentUser(createApiClient({ fetch: fakeFetch }))).toBeNull();
  });

  it('does not hide other /auth/me failures', async () => {
    const { fakeFetch } = makeFakeFetch(() => new Response('oops', { status: 500 }));
    const error = await caught(fetchCurrentUser(createApiClient({ fetch: fakeFetch })));
    expect(error.status).toBe(500);
  });

  it('returns the checks of a 503 from /readyz instead of throwing', async () => {
    const body = {
      status: 'unavailable',
      checks: {
        database: { ok: true, latency_ms: 1.2 },
        guard_worker: { ok: false, error: 'no guard worker answered a ping within 2.0s' },
      },
    };
    const { fakeFetch } = makeFakeFetch(() => json(body, 503));
    expect(await fetchReadiness(createApiClient({ fetch: fakeFetch }))).toEqual(body);
  });

  it('still throws for a /readyz 503 that is not the readiness answer', async () => {
    const { fakeFetch } = makeFakeFetch(() => new Response('upstream down', { status: 503 }));
    const error = await caught(fetchReadiness(createApiClient({ fetch: fakeFetch })));
    expect(error.code).toBe('invalid_response');
  });
});

describe('readCookie', () => {
  it('finds a cookie among others and decodes it', () => {
    expect(readCookie('csrftoken', 'a=1; csrftoken=abc%3D; b=2')).toBe('abc=');
    expect(readCookie('csrftoken', 'xcsrftoken=no')).toBeNull();
    expect(readCookie('csrftoken', '')).toBeNull();
  });
});
