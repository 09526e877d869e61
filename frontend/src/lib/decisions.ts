/** Decisions as the audit pages see them: types, list filters, fetchers and the CSV export's address. */

import { api, type ApiClient } from '../api';
import type { PolicySummary, PolicyVersion } from './policies';

export type { PolicyCategory, PolicySummary, PolicyVersion } from './policies';

export interface Message {
  role: string;
  content: string;
}

export interface Decision {
  id: string;
  status: 'pending' | 'completed' | 'failed' | string;
  flagged: boolean | null;
  verdict: 'safe' | 'unsafe' | null;
  malformed: boolean;
  content_truncated: boolean;
  categories: string[];
  category_scores: Record<string, number>;
  score: number | null;
  reasoning: string;
  policy: { slug: string; version: number; sha256: string };
  model: { id: number; name: string; template_version: string } | null;
  review: { status: string; reason: string } | null;
  target: string;
  reasoning_mode: string;
  external_id: string;
  metadata: Record<string, unknown>;
  error: string;
  latency_ms: number | null;
  queue_ms: number | null;
  inference_ms: number | null;
  created_at: string;
  completed_at: string | null;
}

export interface ReviewLabel {
  id: number;
  reviewer: string;
  verdict: 'safe' | 'unsafe';
  categories: string[];
  rationale: string;
  created_at: string;
}

export interface ReviewHistory {
  status: string;
  reason: string;
  priority: number;
  labels_needed: number;
  /** When the item's independent labels disagreed and it went to a further reviewer; null otherwise. */
  escalated_at: string | null;
  queued_at: string;
  done_at: string | null;
  /** Labels given so far, counted for everyone, while `labels` may be hidden (an independent second
   * opinion is not shown until the item is settled). Older servers leave it out. */
  labels_given?: number;
  labels: ReviewLabel[];
}

/** "Labels 1 of 2": the count the server gives, else the labels this viewer can see. */
export function labelsGiven(history: Pick<ReviewHistory, 'labels_given' | 'labels'>): number {
  return typeof history.labels_given === 'number' ? history.labels_given : history.labels.length;
}

/** The callback of a decision requested with async=true, to its API key's webhook. */
export interface WebhookDelivery {
  status: 'pending' | 'delivered' | 'failed' | 'skipped' | string;
  attempts: number;
  last_status_code: number | null;
  last_error: string;
  delivered_at: string | null;
  /** When the next attempt may start; null once it is over, or while an attempt is in flight. */
  next_attempt_at: string | null;
  /** An attempt is being made now (pending with no next attempt to wait for). */
  in_flight?: boolean;
}

export interface DecisionDetail extends Decision {
  messages: Message[];
  raw_output: string;
  template_version: string;
  webhook?: WebhookDelivery | null;
  review_history?: ReviewHistory | null;
}

/** Whether an attempt of a pending delivery is being made now: the server says so, or it gives no
 * time for the next attempt (while one is in flight its lease is no time anyone waits for). */
export function webhookInFlight(webhook: WebhookDelivery): boolean {
  return webhook.status === 'pending' && (webhook.in_flight === true || webhook.next_attempt_at === null);
}

/**
 * One line on a webhook delivery: "delivered at … (2 attempts)", "failed after 12 attempts: …",
 * "trying now", "2 attempts so far: …; next at …".
 */
export function describeWebhook(webhook: WebhookDelivery, when: (iso: string) => string): string {
  const attempts = `${webhook.attempts} attempt${webhook.attempts === 1 ? '' : 's'}`;
  const error = webhook.last_error ? `: ${webhook.last_error}` : '';
  switch (webhook.status) {
    case 'delivered':
      return webhook.delivered_at ? `delivered ${when(webhook.delivered_at)} (${attempts})` : `delivered (${attempts})`;
    case 'failed':
      return `failed after ${attempts}${error}`;
    case 'skipped':
      return `not sent${error}`;
    default:
      if (webhookInFlight(webhook)) {
        // The attempt in flight is already counted; an error is the one before it.
        const now = webhook.attempts > 1 ? `trying now (attempt ${webhook.attempts})` : 'trying now';
        return webhook.last_error ? `${now}; the attempt before${error}` : now;
      }
      if (webhook.attempts === 0) return 'not tried yet';
      return `${attempts} so far${error}; next ${webhook.next_attempt_at ? when(webhook.next_attempt_at) : 'soon'}`;
  }
}

/** How often the decision page asks again while a delivery is pending: every few seconds while an
 * attempt is in flight or due within a minute, less often while it waits out a longer back-off;
 * null once it is delivered, failed or skipped. */
export function webhookPollMs(webhook: WebhookDelivery | null | undefined, now: number = Date.now()): number | null {
  if (!webhook || webhook.status !== 'pending') return null;
  if (webhookInFlight(webhook)) return 3000;
  const due = Date.parse(webhook.next_attempt_at ?? '');
  return Number.isNaN(due) || due - now <= 60_000 ? 3000 : 30_000;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * A keyset-paged list (the decisions audit list). `next` leads to older rows, `previous` to newer
 * ones; `count` is exact only when `count_exact` is true, otherwise a lower bound (the server stops
 * counting at a cap).
 */
export interface CursorPage<T> {
  count: number;
  count_exact: boolean;
  next: string | null;
  previous: string | null;
  results: T[];
}

// --- Filters ----------------------------------------------------------------------------------

/** The audit table's filters; every one is optional and kept in the page's URL. */
export interface DecisionFilters {
  verdict: string;
  policy: string;
  version: string;
  category: string;
  api_key: string;
  /** The callback's delivery status of async decisions: pending, delivered, failed or skipped. */
  webhook: string;
  /** Dates as yyyy-mm-dd (the date inputs' format), inclusive on both ends. */
  since: string;
  until: string;
}

export const FILTER_NAMES = ['verdict', 'policy', 'version', 'category', 'api_key', 'webhook', 'since', 'until'] as const;

export const EMPTY_FILTERS: DecisionFilters = {
  verdict: '',
  policy: '',
  version: '',
  category: '',
  api_key: '',
  webhook: '',
  since: '',
  until: '',
};

export function filtersFromSearch(search: URLSearchParams): DecisionFilters {
  const filters = { ...EMPTY_FILTERS };
  for (const name of FILTER_NAMES) filters[name] = search.get(name)?.trim() ?? '';
  return filters;
}

export function filtersToSearch(filters: DecisionFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filters[name].trim();
    if (value) search.set(name, value);
  }
  return search;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Start of a local calendar day as an ISO instant. */
function localDayStart(day: string, addDays = 0): string {
  const [year, month, date] = day.split('-').map(Number);
  return new Date(year, month - 1, date + addDays).toISOString();
}

/** Problems with the filters, by filter name; the API is not called while there are any. */
export function filterProblems(filters: DecisionFilters): Partial<Record<keyof DecisionFilters, string>> {
  const problems: Partial<Record<keyof DecisionFilters, string>> = {};
  if (filters.version && !/^[1-9]\d*$/.test(filters.version)) problems.version = 'A version is a whole number from 1.';
  if (filters.version && !filters.policy) problems.version = 'Choose a policy to filter by its version.';
  for (const name of ['since', 'until'] as const) {
    if (filters[name] && !DATE.test(filters[name])) problems[name] = 'Use a date such as 2026-11-24.';
  }
  if (!problems.since && !problems.until && filters.since && filters.until && filters.since > filters.until) {
    problems.until = 'The end date is before the start date.';
  }
  return problems;
}

/**
 * The list API's query for these filters. Dates are whole local days: `until` is exclusive in the
 * API, so the chosen end day is sent as the start of the next day.
 */
export function filtersToQuery(filters: DecisionFilters): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of ['verdict', 'policy', 'version', 'category', 'api_key', 'webhook'] as const) {
    const value = filters[name].trim();
    if (value) query.set(name, value);
  }
  // A malformed output has no verdict: the Verdict select offers it, and the API filters it apart.
  if (query.get('verdict') === 'malformed') {
    query.delete('verdict');
    query.set('malformed', 'true');
  }
  if (DATE.test(filters.since)) query.set('since', localDayStart(filters.since));
  if (DATE.test(filters.until)) query.set('until', localDayStart(filters.until, 1));
  return query;
}

// --- Fetchers ---------------------------------------------------------------------------------

export const PAGE_SIZE = 25;

/** What a row of the audit list hands the decision page (router state): the list's own query, so
 * the page's "← Decision audit" link returns to the list as it was left. */
export interface DecisionListState {
  listSearch: string;
}

export function decisionListState(search: string): DecisionListState {
  return { listSearch: search };
}

/** The audit list the decision page leads back to: the one it was opened from (its filters and
 * page), else the whole list (the page was opened directly or from elsewhere). */
export function decisionListHref(state: unknown): string {
  const search =
    typeof state === 'object' && state !== null && typeof (state as Partial<DecisionListState>).listSearch === 'string'
      ? (state as DecisionListState).listSearch
      : '';
  // Rewritten as a query string, so whatever the state holds stays a query of /decisions.
  const query = new URLSearchParams(search).toString();
  return query ? `/decisions?${query}` : '/decisions';
}

/** One page of the audit list, newest first; no cursor means the newest page. */
export function fetchDecisions(
  filters: DecisionFilters,
  cursor: string | null,
  signal?: AbortSignal,
  client: ApiClient = api,
): Promise<CursorPage<Decision>> {
  const query = filtersToQuery(filters);
  query.set('limit', String(PAGE_SIZE));
  if (cursor) query.set('cursor', cursor);
  return client.get<CursorPage<Decision>>(`/api/v1/decisions/?${query}`, { signal });
}

/**
 * The `cursor` of a `next`/`previous` link (absolute or relative URL), or null when there is no
 * link or the link has no cursor (the newest page).
 */
export function cursorFromUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    return new URL(url, 'http://localhost').searchParams.get('cursor') || null;
  } catch {
    return null;
  }
}

/** "3 matching", "1,234 matching"; a capped (lower-bound) count reads "10,000+ matching". */
export function formatMatchCount(count: number, exact: boolean): string {
  return `${count.toLocaleString('en-US')}${exact ? '' : '+'} matching`;
}

export function fetchDecision(id: string, signal?: AbortSignal, client: ApiClient = api): Promise<DecisionDetail> {
  return client.get<DecisionDetail>(`/api/v1/decisions/${encodeURIComponent(id)}/`, { signal });
}

/** Try a decision's failed webhook again; the answer is its delivery, due now. */
export function retryWebhook(id: string, client: ApiClient = api): Promise<WebhookDelivery> {
  return client.post<WebhookDelivery>(`/api/v1/decisions/${encodeURIComponent(id)}/webhook/retry/`);
}

export function fetchPolicyVersion(
  slug: string,
  number: number,
  signal?: AbortSignal,
  client: ApiClient = api,
): Promise<PolicyVersion> {
  return client.get<PolicyVersion>(`/api/v1/policies/${encodeURIComponent(slug)}/versions/${number}/`, { signal });
}

export async function fetchPolicies(signal?: AbortSignal, client: ApiClient = api): Promise<PolicySummary[]> {
  const body = await client.get<PolicySummary[] | Page<PolicySummary>>('/api/v1/policies/', { signal });
  return Array.isArray(body) ? body : body.results;
}

// --- CSV export -------------------------------------------------------------------------------

/**
 * Where the Export CSV link downloads the filtered decisions (the table's filters). The server writes
 * the CSV and the browser saves it as it arrives, so an export of any size never sits in the page.
 */
export function decisionsCsvUrl(filters: DecisionFilters): string {
  const query = filtersToQuery(filters);
  query.set('format', 'csv');
  return `/api/v1/decisions/export/?${query}`;
}
