import { act } from 'react';
import { MemoryRouter, Route, Routes, type InitialEntry } from 'react-router-dom';
import { describe, expect, it, vi } from 'vitest';

import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
import { DECISION as BASE_DECISION } from '../../test/fixtures';
import { DecisionDetailPage } from './DecisionDetailPage';

const FAILED = {
  status: 'failed',
  attempts: 12,
  last_status_code: null,
  last_error: 'http://hooks.example/x: [Errno 111] Connection refused',
  delivered_at: null,
  next_attempt_at: null,
};

const DECISION = {
  ...BASE_DECISION,
  messages: [{ role: 'user', content: 'Write a poem about rain' }],
  raw_output: '',
  template_version: 'rsafe-1',
  review_history: null,
};

const HISTORY = {
  status: 'open',
  reason: 'flagged',
  priority: 4,
  labels_needed: 3,
  escalated_at: '2026-12-07T11:00:00Z',
  queued_at: '2026-12-07T10:00:02Z',
  done_at: null,
  labels: [
    { id: 1, reviewer: 'rita', verdict: 'unsafe', categories: ['S1'], rationale: 'threat', created_at: '2026-12-07T10:30:00Z' },
    { id: 2, reviewer: 'sam', verdict: 'safe', categories: [], rationale: '', created_at: '2026-12-07T10:59:00Z' },
  ],
};

function renderDecision(entry: InitialEntry = '/decisions/dec-1') {
  return dom.render(
    <MemoryRouter initialEntries={[entry]}>
      <Routes>
        <Route path="/decisions/:id" element={<DecisionDetailPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

describe('the decision page', () => {
  it('shows that the review item was escalated, and when, with the labels that disagreed', async () => {
    stubFetch((url) => (url === '/api/v1/decisions/dec-1/' ? json({ ...DECISION, review_history: HISTORY }) : undefined));
    await renderDecision();
    const escalated = await waitFor(() => byTestId('review-history-escalated'), 'the escalation row');
    expect(escalated.previousElementSibling?.textContent).toBe('Escalated');
    expect(escalated.textContent).toContain(new Date('2026-12-07T11:00:00Z').toLocaleString());
    expect(byTestId('decision-review-history')?.textContent).toContain('2 of 3');
    expect(dom.container.querySelectorAll('[data-testid="review-label"]')).toHaveLength(2);
  });

  it('shows no escalation for a review item that was not escalated', async () => {
    const history = { ...HISTORY, status: 'done', labels_needed: 1, escalated_at: null, labels: [HISTORY.labels[0]] };
    stubFetch((url) => (url === '/api/v1/decisions/dec-1/' ? json({ ...DECISION, review_history: history }) : undefined));
    await renderDecision();
    await waitFor(() => byTestId('review-label'), 'the label');
    expect(byTestId('review-history-escalated')).toBeNull();
    expect(byTestId('decision-review-history')?.textContent).not.toContain('Escalated');
  });

  it('tries a failed webhook again and shows the new state', async () => {
    let webhook: object = FAILED;
    const requests = stubFetch((url, init) => {
      if (url === '/api/v1/decisions/dec-1/') return json({ ...DECISION, webhook });
      if (url === '/api/v1/decisions/dec-1/webhook/retry/' && init.method === 'POST') {
        webhook = { ...FAILED, status: 'pending', attempts: 0, next_attempt_at: '2026-12-07T12:00:00Z' };
        return json(webhook, 202);
      }
      return undefined;
    });
    await dom.render(
      <MemoryRouter initialEntries={['/decisions/dec-1']}>
        <Routes>
          <Route path="/decisions/:id" element={<DecisionDetailPage />} />
        </Routes>
      </MemoryRouter>,
    );
    const row = await waitFor(() => byTestId('decision-webhook'), 'the webhook row');
    expect(row.textContent).toContain('failed after 12 attempts: http://hooks.example/x: [Errno 111] Connection refused');

    const button = [...row.querySelectorAll('button')].find((b) => b.textContent === 'Try again');
    expect(button).toBeDefined();
    await click(button!);
    await waitFor(() => (byTestId('decision-webhook')?.textContent?.includes('not tried yet') ? true : null), 'the new state');
    expect(requests).toContain('POST /api/v1/decisions/dec-1/webhook/retry/');
    expect(byTestId('decision-webhook')?.querySelector('button')).toBeNull();
  });

  it('counts the labels given, also those hidden from this viewer', async () => {
    // A second opinion is pending: the first label is hidden from others, but counted.
    const history = { ...HISTORY, status: 'open', labels_needed: 2, escalated_at: null, labels_given: 1, labels: [] };
    stubFetch((url) => (url === '/api/v1/decisions/dec-1/' ? json({ ...DECISION, review_history: history }) : undefined));
    await renderDecision();
    const labels = await waitFor(() => byTestId('review-history-labels'), 'the labels row');
    expect(labels.textContent).toBe('1 of 2');
    expect(byTestId('review-label')).toBeNull();
  });

  it('leads back to the audit list it was opened from, its filters and page kept', async () => {
    stubFetch((url) => (url === '/api/v1/decisions/dec-1/' ? json(DECISION) : undefined));
    await renderDecision({ pathname: '/decisions/dec-1', state: { listSearch: 'verdict=unsafe&cursor=abc' } });
    const back = await waitFor(
      () => [...dom.container.querySelectorAll('a')].find((a) => a.textContent === '← Decision audit'),
      'the back link',
    );
    expect(back.getAttribute('href')).toBe('/decisions?verdict=unsafe&cursor=abc');
  });

  it('leads back to the whole audit list when it was opened directly', async () => {
    stubFetch((url) => (url === '/api/v1/decisions/dec-1/' ? json(DECISION) : undefined));
    await renderDecision();
    const back = await waitFor(
      () => [...dom.container.querySelectorAll('a')].find((a) => a.textContent === '← Decision audit'),
      'the back link',
    );
    expect(back.getAttribute('href')).toBe('/decisions');
  });

  it('shows where a webhook stands when someone else already tried it again', async () => {
    // The other auditor's retry happened after this page was loaded.
    let webhook: object = FAILED;
    const requests = stubFetch((url, init) => {
      if (url === '/api/v1/decisions/dec-1/') return json({ ...DECISION, webhook });
      if (url === '/api/v1/decisions/dec-1/webhook/retry/' && init.method === 'POST') {
        return json({ error: { code: 'not_failed', message: 'this webhook is pending; only a failed one is tried again' } }, 409);
      }
      return undefined;
    });
    await renderDecision();
    const row = await waitFor(() => byTestId('decision-webhook'), 'the webhook row');
    expect(row.textContent).toContain('failed after 12 attempts');

    webhook = { ...FAILED, status: 'pending', attempts: 0, last_error: '', next_attempt_at: '2026-12-07T12:00:00Z', in_flight: false };
    await click([...row.querySelectorAll('button')].find((b) => b.textContent === 'Try again')!);
    await waitFor(() => (byTestId('decision-webhook')?.textContent?.includes('not tried yet') ? true : null), 'the delivery as it is now');
    const now = byTestId('decision-webhook')!;
    expect(now.textContent).not.toContain('failed after');
    expect(now.querySelector('button')).toBeNull();
    expect(now.querySelector('[role="alert"]')?.textContent).toContain('Could not try the webhook again');
    expect(now.querySelector('[role="alert"]')?.textContent).toContain('this webhook is pending');
    expect(requests.filter((r) => r === 'GET /api/v1/decisions/dec-1/')).toHaveLength(2);
  });

  it('follows a webhook it tried again until it is delivered, then stops asking', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let webhook: object = FAILED;
      const requests = stubFetch((url, init) => {
        if (url === '/api/v1/decisions/dec-1/') return json({ ...DECISION, webhook });
        if (url === '/api/v1/decisions/dec-1/webhook/retry/' && init.method === 'POST') {
          // The worker picks it up at once: the attempt is in flight, with no next time to show.
          webhook = { ...FAILED, status: 'pending', attempts: 1, last_error: '', next_attempt_at: null, in_flight: true };
          return json(webhook, 202);
        }
        return undefined;
      });
      const reads = () => requests.filter((r) => r === 'GET /api/v1/decisions/dec-1/').length;
      await renderDecision();
      const row = await waitFor(() => byTestId('decision-webhook'), 'the webhook row');
      await act(async () => {
        vi.advanceTimersByTime(10_000);
      });
      expect(reads()).toBe(1); // a failed webhook is not followed

      await click([...row.querySelectorAll('button')].find((b) => b.textContent === 'Try again')!);
      await waitFor(() => (byTestId('decision-webhook')?.textContent === 'trying now' ? true : null), 'the attempt in flight');
      expect(reads()).toBe(2);

      webhook = { ...FAILED, status: 'delivered', attempts: 1, last_error: '', last_status_code: 204, delivered_at: '2026-12-07T12:00:02Z' };
      await act(async () => {
        vi.advanceTimersByTime(3000);
      });
      await waitFor(() => (byTestId('decision-webhook')?.textContent?.startsWith('delivered') ? true : null), 'the delivery');
      expect(reads()).toBe(3);

      await act(async () => {
        vi.advanceTimersByTime(30_000);
      });
      expect(reads()).toBe(3); // delivered: nothing more to follow
    } finally {
      vi.useRealTimers();
    }
  });
});
