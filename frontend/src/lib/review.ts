/** The review queue's endpoints and shapes. */

import { api, ApiError, NETWORK_ERROR_STATUS, type ApiClient } from '../api';
import type { DecisionDetail, PolicyCategory, ReviewLabel } from './decisions';
import type { LabelDraft } from './reviewKeys';

export interface ReviewItem {
  id: number;
  reason: 'malformed' | 'flagged' | 'uncertain' | 'sampled' | string;
  priority: number;
  status: string;
  labels_needed: number;
  /** When the item's independent labels disagreed and it came back for a reviewer to settle; null otherwise. */
  escalated_at: string | null;
  claim_expires_at: string | null;
  created_at: string;
  decision: DecisionDetail;
  policy_categories: PolicyCategory[];
  /** The labels that disagreed, shown to the reviewer who settles an escalated item; empty otherwise. */
  earlier_labels: ReviewLabel[];
}

/** What claiming the next item found: an item, or none, with how many open items this reviewer
 * skipped lately (they come back to them later; other reviewers can take them now). */
export type ClaimResult = { item: ReviewItem } | { item: null; skipped: number };

/** Items whose independent labels disagreed: escalated in the period, of those settled, and open now (any age). */
export interface EscalationCounts {
  raised: number;
  settled: number;
  waiting: number;
}

/** Reviewed items, those with a guard verdict to compare (a malformed output has none), and those
 * whose reviewer's verdict differed from the guard's. */
export interface OutcomeCounts {
  reviewed: number;
  compared: number;
  overturned: number;
  overturn_rate: number | null;
  reviewer_unsafe: number;
}

export interface GuardVsReview extends OutcomeCounts {
  by_reason: Record<string, OutcomeCounts>;
  by_model: (OutcomeCounts & { id: number | null; name: string | null })[];
  by_policy: (OutcomeCounts & { slug: string })[];
}

export interface ReviewStats {
  since: string | null;
  open: number;
  claimed: number;
  done: number;
  oldest_open_age_s: number | null;
  labels_last_hour: number;
  labels_last_day: number;
  by_reason: Record<string, number>;
  agreement: { pairs: number; cohen_kappa: number | null };
  guard_vs_review: GuardVsReview;
  escalations: EscalationCounts;
}

/** One reviewer's labels over a period, and how they stood against the guard and the other reviewers. */
export interface ReviewerFigures {
  reviewer: { id: number; username: string };
  labels: number;
  unsafe_rate: number | null;
  /** Mean seconds from claim to label; null when none of the labels has a claim time (older labels). */
  mean_handle_s: number | null;
  /** Labels whose verdict matched the guard's, of those with a guard verdict (a malformed output has none). */
  guard: { compared: number; agreed: number; agreement_rate: number | null };
  /** Labels with a second, independent reviewer's label beside them, and how many agreed with it
   * (verdict and categories). */
  second_opinions: { paired: number; agreed: number; agreement_rate: number | null };
  /** Escalations this reviewer's label settled as the third reviewer; and, of the settled disagreements
   * they were part of, how many went their way (upheld) and how many the other way (overruled). */
  escalations: { settled: number; upheld: number; overruled: number };
}

/** The periods the queue's agreement figures can cover, in days (`all`: every finished item). */
export const STATS_WINDOWS = [
  { value: '1', label: 'Last 24 hours' },
  { value: '7', label: 'Last 7 days' },
  { value: '30', label: 'Last 30 days' },
  { value: 'all', label: 'All time' },
] as const;

export type StatsWindow = (typeof STATS_WINDOWS)[number]['value'];

/** The `since` a window starts at, as an ISO time, or null for all time. */
export function statsSince(window: StatsWindow, now: Date = new Date()): string | null {
  if (window === 'all') return null;
  return new Date(now.getTime() - Number(window) * 86_400_000).toISOString();
}

/** What reviewers found, per review reason: what an overturn means depends on why the item was sent. */
export const OVERTURN_TEXT: Record<string, string> = {
  flagged: 'Flags the reviewers judged safe',
  uncertain: 'Uncertain safe decisions the reviewers judged unsafe',
  sampled: 'Sampled safe decisions the reviewers judged unsafe',
};

/** 2 of 5 → "2 of 5 (40%)"; nothing compared → "—". */
export function formatOverturns(counts: Pick<OutcomeCounts, 'compared' | 'overturned' | 'overturn_rate'>): string {
  if (counts.compared === 0 || counts.overturn_rate === null) return '—';
  const percent = counts.overturn_rate * 100;
  const shown = percent > 0 && percent < 1 ? percent.toFixed(1) : Math.round(percent).toString();
  return `${counts.overturned} of ${counts.compared} (${shown}%)`;
}

/** A rate as a whole percent: 0.667 → "67%"; one decimal where rounding would give 0% or 100% for
 * what is neither (0.004 → "0.4%", 0.998 → "99.8%"); nothing → "—". */
export function percentText(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '—';
  const percent = rate * 100;
  const tenths = Math.round(percent * 10) / 10;
  if (percent > 0 && percent < 1) return `${Math.max(0.1, tenths).toFixed(1)}%`;
  if (percent > 99 && percent < 100) return `${Math.min(99.9, tenths).toFixed(1)}%`;
  return `${Math.round(percent)}%`;
}

/** An agreement rate and what it is of: 2 agreed of 3 → "67% of 3"; nothing to compare → "—". */
export function agreementText(rate: number | null, of: number): string {
  if (rate === null || of === 0) return '—';
  return `${percentText(rate)} of ${of}`;
}

/** Of a reviewer's settled disagreements, those upheld and overruled: "2 / 1"; none settled → "—". */
export function upheldText({ upheld, overruled }: Pick<ReviewerFigures['escalations'], 'upheld' | 'overruled'>): string {
  if (upheld === 0 && overruled === 0) return '—';
  return `${upheld} / ${overruled}`;
}

export const REASON_TEXT: Record<string, string> = {
  malformed: 'The guard’s output was malformed, or it could not judge the content (it fails closed, so a person decides).',
  flagged: 'The guard judged it unsafe.',
  uncertain: 'The guard judged it safe, but with a score in the uncertainty band.',
  sampled: 'A random sample of safe decisions, to catch what the guard misses.',
};

/** The `X-Review-Skipped` count of an empty queue's answer; 0 when missing or not a count. */
export function skippedCount(header: string | null): number {
  const count = Number(header?.trim() || 'NaN');
  return Number.isInteger(count) && count > 0 ? count : 0;
}

/** Claims the next item; none when the queue has nothing for this reviewer (204), with the count of
 * open items they skipped lately. */
export async function claimNext(client: ApiClient = api): Promise<ClaimResult> {
  const answer = await client.requestWithHeaders<{ item?: ReviewItem } | undefined>('POST', '/api/v1/review/next/');
  const item = answer.body?.item;
  if (item) return { item: { ...item, escalated_at: item.escalated_at ?? null, earlier_labels: item.earlier_labels ?? [] } };
  return { item: null, skipped: skippedCount(answer.headers.get('X-Review-Skipped')) };
}

/** "1 item you skipped comes back to you later; …", "3 items you skipped come back …"; none → null. */
export function skippedText(skipped: number): string | null {
  if (skipped <= 0) return null;
  const items = skipped === 1 ? '1 item you skipped comes' : `${skipped} items you skipped come`;
  return `${items} back to you later; other reviewers can take ${skipped === 1 ? 'it' : 'them'} now.`;
}

/** "1 pair", "4 pairs" of labels on the same item, that the agreement is measured on. */
export function pairsText(pairs: number): string {
  if (pairs === 0) return 'no double-labelled items in this period';
  return `${pairs} pair${pairs === 1 ? '' : 's'}`;
}

/** "2 raised, 1 settled in this period; 3 waiting now". */
export function escalationText(counts: EscalationCounts): string {
  return `${counts.raised} raised, ${counts.settled} settled in this period; ${counts.waiting} waiting now`;
}

export function submitLabel(itemId: number, draft: LabelDraft, client: ApiClient = api): Promise<ReviewLabel> {
  return client.post<ReviewLabel>(`/api/v1/review/items/${itemId}/label/`, {
    verdict: draft.verdict,
    categories: draft.categories,
    rationale: draft.rationale,
  });
}

export function releaseItem(itemId: number, client: ApiClient = api): Promise<unknown> {
  return client.post<unknown>(`/api/v1/review/items/${itemId}/release/`);
}

/** The query string of a period's `since`: none for all time. */
function sinceQuery(since: string | null): string {
  return since === null ? '' : `?${new URLSearchParams({ since }).toString()}`;
}

export function fetchReviewStats(
  since: string | null,
  signal?: AbortSignal,
  client: ApiClient = api,
): Promise<ReviewStats> {
  return client.get<ReviewStats>(`/api/v1/review/stats/${sinceQuery(since)}`, { signal });
}

/** Each reviewer's figures since `since`, busiest first: every reviewer's for a superuser, the
 * caller's own for anyone else. */
export async function fetchReviewerStats(
  since: string | null,
  signal?: AbortSignal,
  client: ApiClient = api,
): Promise<ReviewerFigures[]> {
  const body = await client.get<unknown>(`/api/v1/review/stats/reviewers/${sinceQuery(since)}`, { signal });
  if (!Array.isArray(body)) {
    throw new ApiError(NETWORK_ERROR_STATUS, 'invalid_response', 'The reviewers’ figures are not a list.');
  }
  return body as ReviewerFigures[];
}

/** A claim that is no longer the caller's: it expired, or the item went to someone else. */
export function isLostClaim(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409 && ['not_claimed', 'claim_expired'].includes(error.code);
}
