/**
 * The one way the web app talks to the Django backend.
 *
 * - Cookies ride along (`credentials: 'same-origin'`): the session cookie authenticates.
 * - Bodies are JSON both ways, except a `FormData` body (a file upload), sent as multipart.
 * - Every non-GET request carries `X-CSRFToken` with the current `csrftoken` cookie.
 * - Any non-2xx answer becomes a thrown `ApiError`; nothing is swallowed.
 */

/**
 * One entry of a 400 answer's `errors` list (policy YAML errors carry `line`/`path`, form errors
 * `field`, a cases import's errors the file's `row` and its `field`).
 */
export interface FieldError {
  line?: number;
  row?: number;
  path?: string;
  field?: string;
  code?: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: FieldError[];

  constructor(status: number, code: string, message: string, errors: FieldError[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}

/** The status code used for an `ApiError` when the request never got an HTTP answer. */
export const NETWORK_ERROR_STATUS = 0;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RequestOptions {
  /** Sent as JSON; a `FormData` is sent as it is (multipart, the browser writes its Content-Type). */
  body?: unknown;
  /** Non-2xx statuses whose JSON body is an expected answer, returned instead of thrown (e.g. 503 from /readyz). */
  acceptStatuses?: readonly number[];
  signal?: AbortSignal;
}

export interface ApiClientOptions {
  fetch?: FetchLike;
  /** Returns the CSRF token to send, or null; defaults to reading the `csrftoken` cookie. */
  csrfToken?: () => string | null;
}

/** Reads one cookie's value from a `document.cookie`-style string. */
export function readCookie(name: string, cookies: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return null;
}

function csrfTokenFromDocument(): string | null {
  return typeof document === 'undefined' ? null : readCookie('csrftoken', document.cookie);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toFieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  const out: FieldError[] = [];
  for (const item of value) {
    if (!isRecord(item)) continue;
    const entry: FieldError = {
      message: typeof item.message === 'string' ? item.message : String(item.message ?? 'Invalid value.'),
    };
    if (typeof item.line === 'number') entry.line = item.line;
    if (typeof item.row === 'number') entry.row = item.row;
    if (typeof item.path === 'string') entry.path = item.path;
    if (typeof item.field === 'string') entry.field = item.field;
    if (typeof item.code === 'string') entry.code = item.code;
    out.push(entry);
  }
  return out;
}

function httpFallbackMessage(response: Response): string {
  const text = response.statusText?.trim();
  return text ? `HTTP ${response.status} ${text}` : `HTTP ${response.status}`;
}

/**
 * Builds the `ApiError` for a non-2xx response. The backend's shape is
 * `{"error": {"code", "message"}, "errors"?: [...]}`; anything else (an HTML page from a proxy,
 * an empty body) still gives a readable message such as "HTTP 502 Bad Gateway".
 */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // An unreadable body falls through to the generic message.
  }
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (isRecord(body) && isRecord(body.error)) {
    const { code, message } = body.error;
    return new ApiError(
      response.status,
      typeof code === 'string' && code ? code : `http_${response.status}`,
      typeof message === 'string' && message ? message : httpFallbackMessage(response),
      toFieldErrors(body.errors),
    );
  }
  // DRF's default shape, in case a view bypasses the project's handler.
  if (isRecord(body) && typeof body.detail === 'string' && body.detail) {
    return new ApiError(response.status, `http_${response.status}`, body.detail, toFieldErrors(body.errors));
  }
  return new ApiError(response.status, `http_${response.status}`, httpFallbackMessage(response));
}

/** An answer with what came around its body: the status and the response headers. */
export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  /** The parsed JSON body; `undefined` for 204/205 or an empty body. */
  body: T;
}

export interface ApiClient {
  request<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T>;
  /** The same request, answered with the status and headers too (e.g. a count sent in a header of a 204). */
  requestWithHeaders<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  get<T>(path: string, options?: Omit<RequestOptions, 'body'>): Promise<T>;
  post<T>(path: string, body?: unknown, options?: Omit<RequestOptions, 'body'>): Promise<T>;
  /** Called with every 401 answer (a lapsed session); returns the unsubscribe function. */
  onUnauthorized(listener: (error: ApiError) => void): () => void;
}

export function createApiClient(options: ApiClientOptions = {}): ApiClient {
  // Looked up at call time so that tests and polyfills replacing the global are honoured.
  const doFetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const csrfToken = options.csrfToken ?? csrfTokenFromDocument;
  const unauthorizedListeners = new Set<(error: ApiError) => void>();

  async function requestWithHeaders<T>(method: HttpMethod, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin', signal: opts.signal };
    if (typeof FormData !== 'undefined' && opts.body instanceof FormData) {
      init.body = opts.body;
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    if (method !== 'GET') {
      const token = csrfToken();
      if (token) headers['X-CSRFToken'] = token;
    }

    let response: Response;
    try {
      response = await doFetch(path, init);
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
      const detail = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
      throw new ApiError(NETWORK_ERROR_STATUS, 'network_error', `Could not reach the server${detail}.`);
    }

    const expected = response.ok || (opts.acceptStatuses ?? []).includes(response.status);
    if (!expected) {
      const error = await errorFromResponse(response);
      if (response.status === 401) unauthorizedListeners.forEach((listener) => listener(error));
      throw error;
    }
    const answer = (body: T): ApiResponse<T> => ({ status: response.status, headers: response.headers, body });
    if (response.status === 204 || response.status === 205) return answer(undefined as T);
    const text = await response.text();
    if (!text) return answer(undefined as T);
    try {
      return answer(JSON.parse(text) as T);
    } catch {
      throw new ApiError(response.status, 'invalid_response', `The server answered HTTP ${response.status} with a body that is not JSON.`);
    }
  }

  async function request<T>(method: HttpMethod, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await requestWithHeaders<T>(method, path, opts)).body;
  }

  return {
    request,
    requestWithHeaders,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body }),
    onUnauthorized(listener) {
      unauthorizedListeners.add(listener);
      return () => {
        unauthorizedListeners.delete(listener);
      };
    },
  };
}

/** The app-wide client. */
export const api = createApiClient();

// --- Backend endpoints --------------------------------------------------------------------------

export interface User {
  username: string;
  email: string;
  roles: string[];
  is_superuser: boolean;
}

export interface ReadinessCheck {
  ok: boolean;
  error?: string;
  latency_ms?: number;
  [detail: string]: unknown;
}

export interface Readiness {
  status: 'ok' | 'unavailable' | string;
  checks: Record<string, ReadinessCheck>;
}

/** Checks the shape of a user answer so that a surprise shows up as an error, not a crash later. */
export function toUser(body: unknown): User {
  if (!isRecord(body) || typeof body.username !== 'string') {
    throw new ApiError(NETWORK_ERROR_STATUS, 'invalid_response', 'The server did not answer with a user.');
  }
  return {
    username: body.username,
    email: typeof body.email === 'string' ? body.email : '',
    roles: Array.isArray(body.roles) ? body.roles.filter((role): role is string => typeof role === 'string') : [],
    is_superuser: body.is_superuser === true,
  };
}

export async function login(username: string, password: string, client: ApiClient = api): Promise<User> {
  return toUser(await client.post<unknown>('/api/v1/auth/login', { username, password }));
}

export function logout(client: ApiClient = api): Promise<void> {
  return client.post<void>('/api/v1/auth/logout');
}

/** The signed-in user, or null when the session is missing or expired (401/403). */
export async function fetchCurrentUser(client: ApiClient = api): Promise<User | null> {
  try {
    return toUser(await client.get<unknown>('/api/v1/auth/me'));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
    throw error;
  }
}

/** `/readyz` answers 200 when ready and 503 with the same body when not: both are answers to show. */
export async function fetchReadiness(client: ApiClient = api, signal?: AbortSignal): Promise<Readiness> {
  const body = await client.get<unknown>('/readyz', { acceptStatuses: [503], signal });
  if (!isRecord(body) || !isRecord(body.checks)) {
    throw new ApiError(NETWORK_ERROR_STATUS, 'invalid_response', 'The readiness answer has no checks.');
  }
  return body as unknown as Readiness;
}
