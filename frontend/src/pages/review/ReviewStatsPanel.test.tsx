import { act } from 'react';
import { describe, expect, it } from 'vitest';

import { json, setupTestRoot, stubFetch } from '../../test/dom';
import { ReviewStatsPanel } from './ReviewStatsPanel';

const counts = (reviewed: number, compared: number, overturned: number, reviewerUnsafe = 0) => ({
  reviewed,
  compared,
  overturned,
  overturn_rate: compared ? overturned / compared : null,
  reviewer_unsafe: reviewerUnsafe,
});

const STATS = {
  since: null,
  open: 3,
  claimed: 1,
  done: 6,
  oldest_open_age_s: 90,
  labels_last_hour: 2,
  labels_last_day: 6,
  by_reason: { flagged: 3 },
  agreement: { pairs: 4, cohen_kappa: 0.5 },
  guard_vs_review: {
    ...counts(6, 5, 2, 4),
    by_reason: { flagged: counts(3, 3, 1, 2), malformed: counts(1, 0, 0, 1), sampled: counts(2, 2, 1, 1) },
    by_model: [
      { id: 2, name: 'guard-v2', ...counts(4, 3, 1) },
      { id: 1, name: 'guard-v1', ...counts(2, 2, 1) },
    ],
    by_policy: [{ slug: 'core-safety', ...counts(6, 5, 2) }],
  },
  escalations: { raised: 4, settled: 3, waiting: 2 },
};

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

describe('the review stats panel', () => {
  it('shows how often reviewers overturned the guard, by reason and by model', async () => {
    stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(STATS) : undefined));
    await dom.render(<ReviewStatsPanel version={0} />);
    await waitFor(() => byTestId('stats-overturned'), 'the stats');

    expect(byTestId('stats-overturned')?.textContent).toBe('2 of 5 (40%)');
    const byReason = byTestId('stats-overturned-by-reason')?.textContent ?? '';
    expect(byReason).toContain('Flags the reviewers judged safe: 1 of 3 (33%)');
    expect(byReason).toContain('Sampled safe decisions the reviewers judged unsafe: 1 of 2 (50%)');
    expect(byReason).toContain('Malformed outputs the reviewers judged unsafe: 1 of 1');
    expect(byReason).not.toContain('Uncertain');
    const rows = [...dom.container.querySelectorAll('table[aria-label="Overturns by model"] tbody tr')].map((row) =>
      [...row.children].map((cell) => cell.textContent),
    );
    expect(rows).toEqual([
      ['guard-v2', '4', '1 of 3 (33%)'],
      ['guard-v1', '2', '1 of 2 (50%)'],
    ]);
    expect(dom.container.querySelector('table[aria-label="Overturns by policy"]')).toBeNull(); // one policy
  });

  it('shows the escalations raised and settled in the period and those waiting now', async () => {
    stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(STATS) : undefined));
    await dom.render(<ReviewStatsPanel version={0} />);
    const escalations = await waitFor(() => byTestId('review-escalations'), 'the escalations');
    expect(escalations.textContent).toBe('4 raised, 3 settled in this period; 2 waiting now');
    expect(escalations.closest('.stats__item')?.querySelector('dt')?.textContent).toBe(
      'Escalations (the two reviewers disagreed)',
    );
  });

  it('shows overturns by policy when more than one policy was reviewed', async () => {
    const twoPolicies = {
      ...STATS,
      guard_vs_review: {
        ...STATS.guard_vs_review,
        by_policy: [
          { slug: 'core-safety', ...counts(4, 4, 1) },
          { slug: 'minors', ...counts(2, 1, 1) },
        ],
      },
    };
    stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(twoPolicies) : undefined));
    await dom.render(<ReviewStatsPanel version={0} />);
    const table = await waitFor(() => dom.container.querySelector('table[aria-label="Overturns by policy"]'), 'the table');
    expect([...table.querySelectorAll('tbody tr')].map((row) => row.textContent)).toEqual([
      'core-safety41 of 4 (25%)',
      'minors21 of 1 (100%)',
    ]);
  });

  it('asks for the last 30 days first and for every finished item under All time', async () => {
    const requests = stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(STATS) : undefined));
    const before = Date.now();
    await dom.render(<ReviewStatsPanel version={0} />);
    await waitFor(() => byTestId('stats-overturned'), 'the stats');

    const since = new URL(requests[0].split(' ')[1], 'http://x').searchParams.get('since');
    const days = (before - Date.parse(since ?? '')) / 86_400_000;
    expect(days).toBeGreaterThan(29.99);
    expect(days).toBeLessThan(30.01);

    const select = dom.container.querySelector('select') as HTMLSelectElement;
    await act(async () => {
      select.value = 'all';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await waitFor(() => requests.length === 2 || null, 'the second request');
    expect(requests[1]).toBe('GET /api/v1/review/stats/');
  });

  it('says so when no item finished in the period', async () => {
    const empty = {
      ...STATS,
      agreement: { pairs: 0, cohen_kappa: null },
      guard_vs_review: { ...counts(0, 0, 0), by_reason: {}, by_model: [], by_policy: [] },
    };
    stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(empty) : undefined));
    await dom.render(<ReviewStatsPanel version={0} />);
    await waitFor(() => byTestId('stats-overturned'), 'the stats');
    expect(byTestId('stats-overturned')?.textContent).toBe('—no finished items in this period');
    expect(byTestId('stats-overturned-by-reason')).toBeNull();
    expect(dom.container.querySelector('table')).toBeNull();
  });

  it('shows what reviewers found in malformed outputs when every finished item is malformed', async () => {
    const onlyMalformed = {
      ...STATS,
      agreement: { pairs: 0, cohen_kappa: null },
      guard_vs_review: {
        ...counts(1, 0, 0, 1),
        by_reason: { malformed: counts(1, 0, 0, 1) },
        by_model: [],
        by_policy: [{ slug: 'core-safety', ...counts(1, 0, 0, 1) }],
      },
    };
    stubFetch((url) => (url.startsWith('/api/v1/review/stats/') ? json(onlyMalformed) : undefined));
    await dom.render(<ReviewStatsPanel version={0} />);
    const malformed = await waitFor(() => byTestId('stats-malformed'), 'the malformed figure');
    expect(malformed.textContent).toBe('Malformed outputs the reviewers judged unsafe: 1 of 1');
    expect(byTestId('stats-overturned')?.textContent).toBe('—'); // nothing to compare with the guard
  });

  it('says "1 pair" for a single double-labelled item', async () => {
    stubFetch((url) =>
      url.startsWith('/api/v1/review/stats/') ? json({ ...STATS, agreement: { pairs: 1, cohen_kappa: null } }) : undefined,
    );
    await dom.render(<ReviewStatsPanel version={0} />);
    await waitFor(() => byTestId('stats-overturned'), 'the stats');
    expect(dom.container.textContent).toContain('1 pair');
    expect(dom.container.textContent).not.toContain('1 pairs');
  });
});
