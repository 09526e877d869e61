import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
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

function renderDecision() {
  return dom.render(
    <MemoryRouter initialEntries={['/decisions/dec-1']}>
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
});
