/** The review queue's endpoints and shapes. */

import { api, ApiError, type ApiClient } from '../api';
import type { DecisionDetail, PolicyCategory, ReviewLabel } from './decisions';
import type { LabelDraft } from './reviewKeys';

export interface ReviewItem {
  id: number;
  reason: 'malformed' | 'flagged' | 'uncertain' | 'sampled' | string;
  priority: number;
  status: string;
  labels_needed: number;
  claim_expires_at: string | null;
  created_at: string;
  decision: DecisionDetail;
  policy_categories: PolicyCategory[];
}

export interface ReviewStats {
  open: number;
  claimed: number;
  done: number;
  oldest_open_age_s: number | null;
  labels_last_hour: number;
  labels_last_day: number;
  by_reason: Record<string, number>;
  agreement: { pairs: number; cohen_kappa: number | null };
}

export const REASON_TEXT: Record<string, string> = {
  malformed: 'The guard’s output was malformed, or it could not judge the content (it fails closed, so a person decides).',
  flagged: 'The guard judged it unsafe.',
  uncertain: 'The guard judged it safe, but with a score in the uncertainty band.',
  sampled: 'A random sample of safe decisions, to catch what the guard misses.',
};

/** Claims the next item; null when the queue has nothing for this reviewer (204). */
export async function claimNext(client: ApiClient = api): Promise<ReviewItem | null> {
  const body = await client.post<{ item: ReviewItem } | undefined>('/api/v1/review/next/');
  return body?.item ?? null;
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

export function fetchReviewStats(signal?: AbortSignal, client: ApiClient = api): Promise<ReviewStats> {
  return client.get<ReviewStats>('/api/v1/review/stats/', { signal });
}

/** A claim that is no longer the caller's: it expired, or the item went to someone else. */
export function isLostClaim(error: unknown): boolean {
  return error instanceof ApiError && error.status === 409 && ['not_claimed', 'claim_expired'].includes(error.code);
}
