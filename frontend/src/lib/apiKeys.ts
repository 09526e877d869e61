/** API keys as the API keys page sees them: types, the list, creating and revoking, and display helpers. */

import { api, type ApiClient, type FieldError } from '../api';

/** A service's key as `GET /api/v1/api-keys/` lists it (the secret itself is never listed). */
export interface ApiKey {
  prefix: string;
  name: string;
  /** The slug of the policy used when a request names none; null: every request must name one. */
  policy: string | null;
  /** Requests (items) per minute. The server stores its default when none was asked for. */
  rate_limit_per_minute: number | null;
  /** Where decisions requested with `async: true` are posted; "" for none. */
  webhook_url: string;
  /** Who made it; null when made with `manage.py create_api_key` (or its account was deleted). */
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** The answer to creating a key: the key, with its secrets. The only answer that ever holds them. */
export interface CreatedApiKey extends ApiKey {
  /** The bearer token services send as `Authorization: Bearer <key>`. */
  key: string;
  /** Signs the webhook deliveries (HMAC-SHA256); null when the key has no webhook. */
  webhook_secret: string | null;
}

/** The new-key form as typed: every field a string, so that nothing typed is lost on an error. */
export interface NewApiKeyForm {
  name: string;
  /** A policy slug, or "" for none. */
  policy: string;
  /** A whole number, or "" for the server's default. */
  rate_limit_per_minute: string;
  webhook_url: string;
}

export const EMPTY_NEW_KEY: NewApiKeyForm = { name: '', policy: '', rate_limit_per_minute: '', webhook_url: '' };

/** The fields of the form, in the order they are shown; errors for any other field are shown above it. */
export const NEW_KEY_FIELDS = ['name', 'policy', 'rate_limit_per_minute', 'webhook_url'] as const;
export type NewKeyField = (typeof NEW_KEY_FIELDS)[number];

export interface NewApiKeyBody {
  name: string;
  policy?: string;
  rate_limit_per_minute?: number;
  webhook_url?: string;
}

const API_KEYS_URL = '/api/v1/api-keys/';

export function fetchApiKeys(signal?: AbortSignal, client: ApiClient = api): Promise<ApiKey[]> {
  return client.get<ApiKey[]>(API_KEYS_URL, { signal });
}

export function createApiKey(body: NewApiKeyBody, client: ApiClient = api): Promise<CreatedApiKey> {
  return client.post<CreatedApiKey>(API_KEYS_URL, body);
}

export function revokeApiKey(prefix: string, client: ApiClient = api): Promise<ApiKey> {
  return client.post<ApiKey>(`${API_KEYS_URL}${encodeURIComponent(prefix)}/revoke/`);
}

/**
 * What the form can tell before asking the server: a missing name, a rate limit that is not a whole
 * number. The server checks the rest (a rate below 1, the URL, the policy) and answers per field.
 */
export function checkNewKey(form: NewApiKeyForm): FieldError[] {
  const problems: FieldError[] = [];
  if (!form.name.trim()) problems.push({ field: 'name', message: 'Give the key a name, such as the service that uses it.' });
  const rate = form.rate_limit_per_minute.trim();
  if (rate && !/^\d+$/.test(rate)) {
    problems.push({ field: 'rate_limit_per_minute', message: 'Enter a whole number of requests per minute, or leave it empty.' });
  }
  return problems;
}

/** The request body for a checked form: empty optional fields are left out, so the server's defaults apply. */
export function newKeyBody(form: NewApiKeyForm): NewApiKeyBody {
  const body: NewApiKeyBody = { name: form.name.trim() };
  if (form.policy) body.policy = form.policy;
  const rate = form.rate_limit_per_minute.trim();
  if (rate) body.rate_limit_per_minute = Number(rate);
  const webhook = form.webhook_url.trim();
  if (webhook) body.webhook_url = webhook;
  return body;
}

/**
 * A 400's errors split by the form field they belong to; errors naming no field of the form (or
 * none at all) go under `other`, shown above the form so that none is lost.
 */
export function errorsByField(errors: readonly FieldError[]): {
  fields: Partial<Record<NewKeyField, string[]>>;
  other: FieldError[];
} {
  const fields: Partial<Record<NewKeyField, string[]>> = {};
  const other: FieldError[] = [];
  for (const error of errors) {
    const field = NEW_KEY_FIELDS.find((name) => name === error.field);
    if (field) (fields[field] ??= []).push(error.message);
    else other.push(error);
  }
  return { fields, other };
}

/** Active keys first, then revoked ones; each group newest first. Does not change `keys`. */
export function sortApiKeys(keys: readonly ApiKey[]): ApiKey[] {
  const newestFirst = (a: ApiKey, b: ApiKey) => Date.parse(b.created_at) - Date.parse(a.created_at);
  return [...keys.filter((key) => !key.revoked_at).sort(newestFirst), ...keys.filter((key) => key.revoked_at).sort(newestFirst)];
}

/** "600 / min", or "default" when the key has no limit of its own. */
export function formatRateLimit(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return 'default';
  return `${rate.toLocaleString('en-US')} / min`;
}

/**
 * How long ago `iso` was, for "last used": "never" for none, "just now" under a minute, then
 * minutes, hours and days; a date past a month (or in the future, a clock skew) reads as the date.
 */
export function formatLastUsed(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.floor((now - then) / 1000);
  if (seconds < -60 || seconds >= 30 * 86400) return new Date(then).toLocaleString();
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** A shell-quoted word for a POSIX shell: single quotes, with any single quote written as '\''. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A curl call that moderates one text with `key`, to paste in a shell: the key's own policy, or a
 * placeholder where the key has none (each request must then name one).
 */
export function curlExample(origin: string, key: string, policy: string | null): string {
  const body = `{"policy": ${JSON.stringify(policy ?? 'POLICY_SLUG')}, "input": "Text to check"}`;
  return [
    `curl -s -H ${shellQuote(`Authorization: Bearer ${key}`)} \\`,
    `     -H 'Content-Type: application/json' \\`,
    `     -d ${shellQuote(body)} \\`,
    `     ${origin.replace(/\/+$/, '')}/api/v1/moderate`,
  ].join('\n');
}

/** The listed part of a created key: what the table keeps, without its secrets. */
export function withoutSecrets(created: CreatedApiKey): ApiKey {
  return {
    prefix: created.prefix,
    name: created.name,
    policy: created.policy,
    rate_limit_per_minute: created.rate_limit_per_minute,
    webhook_url: created.webhook_url,
    created_by: created.created_by,
    created_at: created.created_at,
    last_used_at: created.last_used_at,
    revoked_at: created.revoked_at,
  };
}

/**
 * The listed keys with what this page learnt since the list was read (a key it made, a key it
 * revoked), sorted by `sortApiKeys`. A revoke cannot be undone, so a revoked copy always wins.
 */
export function mergeApiKeys(listed: readonly ApiKey[], local: readonly ApiKey[]): ApiKey[] {
  const byPrefix = new Map(listed.map((key) => [key.prefix, key]));
  for (const key of local) {
    const known = byPrefix.get(key.prefix);
    if (!known || (key.revoked_at && !known.revoked_at)) byPrefix.set(key.prefix, key);
  }
  return sortApiKeys([...byPrefix.values()]);
}
