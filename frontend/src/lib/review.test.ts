import { describe, expect, it } from 'vitest';

import { createApiClient } from '../api';
import { claimNext, escalationText, formatOverturns, pairsText, skippedCount, skippedText, statsSince } from './review';

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
