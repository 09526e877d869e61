import { describe, expect, it } from 'vitest';

import { ApiError, createApiClient } from '../api';
import { formatDuration } from './format';
import {
  agreementText,
  claimNext,
  escalationText,
  fetchReviewerStats,
  formatOverturns,
  pairsText,
  percentText,
  skippedCount,
  skippedText,
  statsSince,
  upheldText,
} from './review';

/** A client whose every request gets `response`. */
const answering = (response: () => Response) => createApiClient({ fetch: async () => response(), csrfToken: () => null });

describe('claimNext', () => {
  it('returns the claimed item, with no earlier labels when the server sends none', async () => {
    const client = answering(
      () => new Response(JSON.stringify({ item: { id: 7, escalated_at: null } }), { status: 200 }),
    );
    expect(await claimNext(client)).toEqual({ item: { id: 7, escalated_at: null, earlier_labels: [] } });
  });

  it('reports how many items the reviewer skipped when the queue is empty for them', async () => {
    const client = answering(() => new Response(null, { status: 204, headers: { 'X-Review-Skipped': '3' } }));
    expect(await claimNext(client)).toEqual({ item: null, skipped: 3 });
  });

  it('counts no skipped items when the empty answer has no count', async () => {
    expect(await claimNext(answering(() => new Response(null, { status: 204 })))).toEqual({ item: null, skipped: 0 });
  });
});

describe('skippedCount', () => {
  it('reads a whole non-negative count and treats anything else as none', () => {
    expect(skippedCount('12')).toBe(12);
    expect(skippedCount(' 2 ')).toBe(2);
    expect(skippedCount('0')).toBe(0);
    expect(skippedCount(null)).toBe(0);
    expect(skippedCount('')).toBe(0);
    expect(skippedCount('-1')).toBe(0);
    expect(skippedCount('1.5')).toBe(0);
    expect(skippedCount('many')).toBe(0);
  });
});

describe('skippedText', () => {
  it('says how many skipped items come back, in the singular and the plural, and nothing for none', () => {
    expect(skippedText(3)).toBe('3 items you skipped come back to you later; other reviewers can take them now.');
    expect(skippedText(1)).toBe('1 item you skipped comes back to you later; other reviewers can take it now.');
    expect(skippedText(0)).toBeNull();
  });
});

describe('pairsText', () => {
  it('counts the double-labelled items in the singular and the plural, and says when there are none', () => {
    expect(pairsText(1)).toBe('1 pair');
    expect(pairsText(4)).toBe('4 pairs');
    expect(pairsText(0)).toBe('no double-labelled items in this period');
  });
});

describe('escalationText', () => {
  it('gives the escalations raised and settled in the period and those waiting now', () => {
    expect(escalationText({ raised: 4, settled: 3, waiting: 2 })).toBe('4 raised, 3 settled in this period; 2 waiting now');
  });
});

describe('statsSince', () => {
  it('starts a window that many days before now, and all time has none', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(statsSince('1', now)).toBe('2026-12-06T12:00:00.000Z');
    expect(statsSince('30', now)).toBe('2026-11-07T12:00:00.000Z');
    expect(statsSince('all', now)).toBeNull();
  });
});

describe('formatOverturns', () => {
  it('gives the count, what it was out of, and the rate', () => {
    expect(formatOverturns({ compared: 5, overturned: 2, overturn_rate: 0.4 })).toBe('2 of 5 (40%)');
    expect(formatOverturns({ compared: 400, overturned: 1, overturn_rate: 0.0025 })).toBe('1 of 400 (0.3%)');
    expect(formatOverturns({ compared: 3, overturned: 0, overturn_rate: 0 })).toBe('0 of 3 (0%)');
  });

  it('shows a dash when nothing could be compared', () => {
    expect(formatOverturns({ compared: 0, overturned: 0, overturn_rate: null })).toBe('—');
  });
});

describe('percentText', () => {
  it('gives a whole percent, and one decimal where rounding would say 0% or 100% of what is neither', () => {
    expect(percentText(2 / 3)).toBe('67%');
    expect(percentText(1)).toBe('100%');
    expect(percentText(0)).toBe('0%');
    expect(percentText(0.004)).toBe('0.4%');
    expect(percentText(0.0001)).toBe('0.1%');
    expect(percentText(0.998)).toBe('99.8%');
    expect(percentText(0.99999)).toBe('99.9%');
  });

  it('shows a dash for a rate there is nothing to compute from', () => {
    expect(percentText(null)).toBe('—');
    expect(percentText(undefined)).toBe('—');
    expect(percentText(Number.NaN)).toBe('—');
  });
});

describe('agreementText', () => {
  it('gives the rate and how many labels it is of', () => {
    expect(agreementText(2 / 3, 3)).toBe('67% of 3');
    expect(agreementText(0.5, 2)).toBe('50% of 2');
    expect(agreementText(0, 4)).toBe('0% of 4');
  });

  it('shows a dash when nothing was compared', () => {
    expect(agreementText(null, 0)).toBe('—');
    expect(agreementText(null, 3)).toBe('—');
  });
});

describe('upheldText', () => {
  it('gives the settled disagreements that went the reviewer’s way and the other way, or a dash for none', () => {
    expect(upheldText({ upheld: 2, overruled: 1 })).toBe('2 / 1');
    expect(upheldText({ upheld: 0, overruled: 3 })).toBe('0 / 3');
    expect(upheldText({ upheld: 0, overruled: 0 })).toBe('—');
  });
});

describe('a reviewer’s time per label', () => {
  it('reads as the other durations do, and as a dash when no label has a claim time', () => {
    expect(formatDuration(31.2)).toBe('31 s');
    expect(formatDuration(192)).toBe('3 min 12 s');
    expect(formatDuration(null)).toBe('—');
  });
});

describe('fetchReviewerStats', () => {
  const recording = (body: unknown) => {
    const urls: string[] = [];
    const client = createApiClient({
      fetch: async (input) => {
        urls.push(input);
        return new Response(JSON.stringify(body), { status: 200 });
      },
      csrfToken: () => null,
    });
    return { client, urls };
  };

  it('asks for the period’s start, or for all time without one', async () => {
    const { client, urls } = recording([]);
    expect(await fetchReviewerStats('2026-12-01T00:00:00.000Z', undefined, client)).toEqual([]);
    expect(await fetchReviewerStats(null, undefined, client)).toEqual([]);
    expect(urls).toEqual([
      '/api/v1/review/stats/reviewers/?since=2026-12-01T00%3A00%3A00.000Z',
      '/api/v1/review/stats/reviewers/',
    ]);
  });

  it('refuses an answer that is not a list of reviewers', async () => {
    const { client } = recording({ open: 1 });
    await expect(fetchReviewerStats(null, undefined, client)).rejects.toBeInstanceOf(ApiError);
  });
});
