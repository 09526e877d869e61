/**
 * API keys as the API keys page sees them: types, the list, creating, changing and revoking a key,
 * rotating its webhook secret, a key's history, and display helpers.
 */

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

/**
 * The new-key form (and the edit form) as typed: every field a string, so that nothing typed is lost
 * on an error.
 */
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

/**
 * A `PATCH /api/v1/api-keys/{prefix}/` body: only the fields that change. `policy: null` takes the
 * key's default policy away; `webhook_url: ""` removes its webhook.
 */
export interface ApiKeyChanges {
  name?: string;
  policy?: string | null;
  rate_limit_per_minute?: number;
  webhook_url?: string;
}

/** The answer to a change or a rotation: the key, with the webhook secret when a new one was made. */
export interface UpdatedApiKey extends ApiKey {
  /** Present only when the key gained a webhook (a change) or its secret was rotated: shown this once. */
  webhook_secret?: string;
}

/** The answer to a rotation: the key, with its new webhook secret. */
export interface RotatedApiKey extends ApiKey {
  webhook_secret: string;
}

/** What happened to a key, as its history records it. */
export type ApiKeyEventKind = 'created' | 'updated' | 'webhook_secret_rotated' | 'revoked';

/** One entry of `GET /api/v1/api-keys/{prefix}/events/` (newest first). Secrets never appear in it. */
export interface ApiKeyEvent {
  kind: ApiKeyEventKind;
  /** Who did it; null when it was done from the command line (or the account was deleted since). */
  actor: string | null;
  /**
   * Only the fields that changed, each as [old, new]: `name`, `policy` (a slug or null),
   * `rate_limit_per_minute` and `webhook_url` ("" for none). A key's creation has ""/null as the old values.
   */
  changes: Partial<Record<string, [unknown, unknown]>>;
  created_at: string;
}

/** A key as a change or a rotation answered it, over the list `basis` that was shown when it was answered. */
export interface KeyEdit {
  basis: readonly ApiKey[] | null;
  key: ApiKey;
}

const API_KEYS_URL = '/api/v1/api-keys/';
const keyUrl = (prefix: string) => `${API_KEYS_URL}${encodeURIComponent(prefix)}/`;

export function fetchApiKeys(signal?: AbortSignal, client: ApiClient = api): Promise<ApiKey[]> {
  return client.get<ApiKey[]>(API_KEYS_URL, { signal });
}

export function createApiKey(body: NewApiKeyBody, client: ApiClient = api): Promise<CreatedApiKey> {
  return client.post<CreatedApiKey>(API_KEYS_URL, body);
}

export function revokeApiKey(prefix: string, client: ApiClient = api): Promise<ApiKey> {
  return client.post<ApiKey>(`${keyUrl(prefix)}revoke/`);
}

/** Changes the fields in `changes`; the others stay as they are. A revoked key answers 409 `revoked`. */
export function updateApiKey(prefix: string, changes: ApiKeyChanges, client: ApiClient = api): Promise<UpdatedApiKey> {
  return client.request<UpdatedApiKey>('PATCH', keyUrl(prefix), { body: changes });
}

/** A new webhook secret, in this answer only; 409 `no_webhook` for a key without one, `revoked` for a revoked key. */
export function rotateWebhookSecret(prefix: string, client: ApiClient = api): Promise<RotatedApiKey> {
  return client.post<RotatedApiKey>(`${keyUrl(prefix)}rotate-webhook-secret/`);
}

/** The key's history, newest first; an unknown prefix answers 404. */
export function fetchApiKeyEvents(prefix: string, signal?: AbortSignal, client: ApiClient = api): Promise<ApiKeyEvent[]> {
  return client.get<ApiKeyEvent[]>(`${keyUrl(prefix)}events/`, { signal });
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

/** The edit form of `key`, filled in with what it is now. */
export function editFormOf(key: ApiKey): NewApiKeyForm {
  return {
    name: key.name,
    policy: key.policy ?? '',
    rate_limit_per_minute: key.rate_limit_per_minute === null ? '' : String(key.rate_limit_per_minute),
    webhook_url: key.webhook_url,
  };
}

/**
 * What the edit form can tell before asking the server: a missing name, a rate limit that is not a
 * whole number. A key keeps a rate of its own, so the rate cannot be emptied (unless it had none).
 */
export function checkKeyEdit(key: ApiKey, form: NewApiKeyForm): FieldError[] {
  const problems = checkNewKey(form);
  if (!form.rate_limit_per_minute.trim() && key.rate_limit_per_minute !== null) {
    problems.push({ field: 'rate_limit_per_minute', message: 'Enter a whole number of requests per minute.' });
  }
  return problems;
}

/**
 * The `PATCH` body for a checked edit form of `key`: only the fields whose value differs from the
 * key's, trimmed (a name or URL changed only by spaces around it is no change). Empty: nothing to save.
 */
export function keyChanges(key: ApiKey, form: NewApiKeyForm): ApiKeyChanges {
  const changes: ApiKeyChanges = {};
  const name = form.name.trim();
  if (name !== key.name) changes.name = name;
  const policy = form.policy || null;
  if (policy !== key.policy) changes.policy = policy;
  const rate = form.rate_limit_per_minute.trim();
  if (rate && Number(rate) !== key.rate_limit_per_minute) changes.rate_limit_per_minute = Number(rate);
  const webhook = form.webhook_url.trim();
  if (webhook !== key.webhook_url) changes.webhook_url = webhook;
  return changes;
}

/** Whether saving `changes` takes `key`'s webhook away (its pending deliveries are then not sent). */
export function removesWebhook(key: ApiKey, changes: ApiKeyChanges): boolean {
  return changes.webhook_url === '' && key.webhook_url !== '';
}

const CHANGE_LABELS: Record<keyof ApiKeyChanges, string> = {
  name: 'name',
  policy: 'policy',
  rate_limit_per_minute: 'rate limit',
  webhook_url: 'webhook URL',
};

/**
 * What a saved change did to `key`, for the page to say: "Saved the name and rate limit of “chat”
 * (1a2b3c4d).", with what removing the webhook means when it did.
 */
export function describeChanges(key: ApiKey, changes: ApiKeyChanges, name: string = key.name): string {
  const removed = removesWebhook(key, changes);
  const labels = NEW_KEY_FIELDS.filter((field) => field in changes && !(removed && field === 'webhook_url')).map(
    (field) => CHANGE_LABELS[field],
  );
  const which = `“${name}” (${key.prefix})`;
  const parts: string[] = [];
  if (labels.length > 0) {
    const list = labels.length === 1 ? labels[0] : `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`;
    parts.push(`Saved the ${list} of ${which}: its next call sees the change.`);
  }
  if (removed) {
    const subject = labels.length > 0 ? 'Its webhook is removed' : `Removed the webhook of ${which}`;
    parts.push(`${subject}: pending deliveries will not be sent.`);
  }
  return parts.join(' ');
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

const EVENT_TITLES: Record<ApiKeyEventKind, string> = {
  created: 'Created',
  updated: 'Changed',
  webhook_secret_rotated: 'Webhook secret rotated',
  revoked: 'Revoked',
};

/** The fields of a key's history in the order they are told (the server's JSON keeps no order); others follow. */
const EVENT_FIELDS: readonly string[] = NEW_KEY_FIELDS;

/** A value of a field in a key's history, as the table shows it: no policy or webhook is "none". */
function eventValue(field: string, value: unknown): string {
  if (field === 'rate_limit_per_minute') return typeof value === 'number' ? value.toLocaleString('en-US') : 'default';
  if (value === null || value === undefined || value === '') return 'none';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const EVENT_LABELS: Record<string, string> = {
  name: 'name',
  policy: 'policy',
  rate_limit_per_minute: 'rate limit',
  webhook_url: 'webhook',
};

/** The [old, new] pairs of `changes` that are well formed, in the order they are told. */
function changedFields(changes: ApiKeyEvent['changes'] | null | undefined): [string, unknown, unknown][] {
  const entries = Object.entries(changes ?? {}).filter(
    (entry): entry is [string, [unknown, unknown]] => Array.isArray(entry[1]) && entry[1].length === 2,
  );
  const rank = (field: string) => (EVENT_FIELDS.includes(field) ? EVENT_FIELDS.indexOf(field) : EVENT_FIELDS.length);
  return entries.sort((a, b) => rank(a[0]) - rank(b[0])).map(([field, [old, now]]) => [field, old, now]);
}

/** "rate limit 600 → 5 / min", "policy core-safety → none", "name svc → chat". */
function describeChange(field: string, old: unknown, now: unknown): string {
  const label = EVENT_LABELS[field] ?? field.replace(/_/g, ' ');
  const change = `${label} ${eventValue(field, old)} → ${eventValue(field, now)}`;
  return field === 'rate_limit_per_minute' && typeof now === 'number' ? `${change} / min` : change;
}

/** What a key was made with: "name chat, policy core-safety, 600 / min, webhook https://…" (no policy or webhook: "none"). */
function describeCreation(changes: ApiKeyEvent['changes']): string {
  const made = new Map(changedFields(changes).map(([field, , now]) => [field, now]));
  const parts: string[] = [];
  if (made.has('name')) parts.push(`name ${eventValue('name', made.get('name'))}`);
  parts.push(`policy ${eventValue('policy', made.get('policy'))}`);
  if (made.has('rate_limit_per_minute')) parts.push(formatRateLimit(made.get('rate_limit_per_minute') as number | null));
  parts.push(`webhook ${eventValue('webhook_url', made.get('webhook_url'))}`);
  for (const [field, now] of made) {
    if (!EVENT_FIELDS.includes(field)) parts.push(`${field.replace(/_/g, ' ')} ${eventValue(field, now)}`);
  }
  return parts.join(', ');
}

/**
 * A line of a key's history in two parts: what was done and by whom ("Changed by lead", "Revoked
 * from the command line"), and what it changed ("rate limit 600 → 5 / min; name svc → chat"), ""
 * when there is nothing more to say.
 */
export function describeKeyEvent(event: Pick<ApiKeyEvent, 'kind' | 'actor' | 'changes'>): { summary: string; details: string } {
  const known = Object.prototype.hasOwnProperty.call(EVENT_TITLES, event.kind);
  const title = known ? EVENT_TITLES[event.kind] : String(event.kind).replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
  const summary = `${title} ${event.actor ? `by ${event.actor}` : 'from the command line'}`;
  let details: string;
  if (event.kind === 'created') details = describeCreation(event.changes);
  else details = changedFields(event.changes).map(([field, old, now]) => describeChange(field, old, now)).join('; ');
  return { summary, details };
}

/** A line of a key's history: "Changed by lead — rate limit 600 → 5 / min; name svc → chat". */
export function keyEventLine(event: Pick<ApiKeyEvent, 'kind' | 'actor' | 'changes'>): string {
  const { summary, details } = describeKeyEvent(event);
  return details ? `${summary} — ${details}` : summary;
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
 * The listed part of a changed key's answer, without the webhook secret it may hold: what the table
 * keeps.
 */
export function listedPart(key: UpdatedApiKey): ApiKey {
  return withoutSecrets({ ...key, key: '', webhook_secret: null });
}

/**
 * `keys` with the changes answered while `listed` was the list shown (`edits`, oldest first): an
 * answer is newer than the list it was made over, and a list read after it already holds it, so
 * only edits made over `listed` itself apply. A key revoked here stays revoked. Keeps the order.
 */
export function withEdits(keys: readonly ApiKey[], listed: readonly ApiKey[] | null, edits: readonly KeyEdit[]): ApiKey[] {
  const latest = new Map<string, ApiKey>();
  for (const edit of edits) if (edit.basis === listed) latest.set(edit.key.prefix, edit.key);
  return keys.map((key) => {
    const edited = latest.get(key.prefix);
    if (!edited || (key.revoked_at && !edited.revoked_at)) return key;
    return edited;
  });
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
