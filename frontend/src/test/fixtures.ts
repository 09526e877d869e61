/**
 * Backend answers that several component tests start from: a completed safe decision as the audit
 * list shows it, the stats of a review queue with one open item and nothing finished, and one
 * reviewer's figures. Tests spread them and change what they are about.
 */
import type { Decision } from '../lib/decisions';
import type { ReviewerFigures, ReviewStats } from '../lib/review';

export const DECISION: Decision = {
  id: 'dec-1',
  status: 'completed',
  flagged: false,
  verdict: 'safe',
  malformed: false,
  content_truncated: false,
  categories: [],
  category_scores: {},
  score: 0.1,
  reasoning: '',
  policy: { slug: 'core-safety', version: 1, sha256: 'abc' },
  model: { id: 1, name: 'tiny', template_version: 'rsafe-1' },
  review: null,
  target: 'prompt',
  reasoning_mode: 'none',
  external_id: '',
  metadata: {},
  error: '',
  latency_ms: 10,
  queue_ms: 1,
  inference_ms: 9,
  created_at: '2026-12-07T10:00:00Z',
  completed_at: '2026-12-07T10:00:01Z',
};

export const REVIEW_STATS: ReviewStats = {
  since: null,
  open: 1,
  claimed: 0,
  done: 0,
  oldest_open_age_s: 30,
  labels_last_hour: 0,
  labels_last_day: 0,
  by_reason: {},
  agreement: { pairs: 0, cohen_kappa: null },
  guard_vs_review: {
    reviewed: 0,
    compared: 0,
    overturned: 0,
    overturn_rate: null,
    reviewer_unsafe: 0,
    by_reason: {},
    by_model: [],
    by_policy: [],
  },
  escalations: { raised: 0, settled: 0, waiting: 0 },
};

/** A reviewer with three labels: two of three agreeing with the guard, one of two with a second
 * reviewer, and one disagreement settled their way. */
export const REVIEWER_FIGURES: ReviewerFigures = {
  reviewer: { id: 3, username: 'ana' },
  labels: 3,
  unsafe_rate: 1,
  mean_handle_s: 31.2,
  guard: { compared: 3, agreed: 2, agreement_rate: 2 / 3 },
  second_opinions: { paired: 2, agreed: 1, agreement_rate: 0.5 },
  escalations: { settled: 0, upheld: 1, overruled: 0 },
};
