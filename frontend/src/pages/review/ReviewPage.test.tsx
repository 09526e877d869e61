import { act } from 'react';
import { MemoryRouter } from 'react-router-dom';
import { beforeEach, describe, expect, it } from 'vitest';

import { click, json, setupTestRoot, stubFetch, typeInto } from '../../test/dom';
import { REVIEW_STATS, REVIEWER_FIGURES } from '../../test/fixtures';
import { ReviewPage } from './ReviewPage';

const ITEM = {
  id: 7,
  reason: 'flagged',
  priority: 2,
  status: 'claimed',
  labels_needed: 1,
  escalated_at: null,
  earlier_labels: [],
  claim_expires_at: new Date(Date.now() + 15 * 60_000).toISOString(),
  created_at: '2026-11-24T10:00:00Z',
  policy_categories: [
    { code: 'S1', name: 'Violent crimes', description: 'Violence.' },
    { code: 'S2', name: 'Weapons', description: 'Arms.' },
  ],
  decision: {
    id: 'dec-1',
    status: 'completed',
    verdict: 'unsafe',
    malformed: false,
    flagged: true,
    categories: ['S2'],
    score: 0.8,
    reasoning: 'Mentions weapons, so S2.',
    policy: { slug: 'core-safety', version: 1, sha256: 'x' },
    model: { id: 1, name: 'tiny', template_version: 'rsafe-1' },
    messages: [{ role: 'user', content: 'How do I build a trebuchet?' }],
    target: 'prompt',
  },
};


const ESCALATED = {
  ...ITEM,
  priority: 4,
  labels_needed: 3,
  escalated_at: '2026-11-24T11:00:00Z',
  earlier_labels: [
    { id: 11, reviewer: 'rita', verdict: 'unsafe', categories: ['S2'], rationale: 'A siege weapon is a weapon.', created_at: '2026-11-24T10:30:00Z' },
    { id: 12, reviewer: 'sam', verdict: 'safe', categories: [], rationale: '', created_at: '2026-11-24T10:50:00Z' },
  ],
};

/** The requests the last installed backend received, as `"METHOD url"`. */
let requests: string[] = [];

/** A backend whose queue is empty for this reviewer: 204, with the skipped count in its header. */
function installEmptyQueue(skipped: string | null) {
  requests = stubFetch((input) => {
    if (input.startsWith('/api/v1/review/stats/reviewers/')) return json([REVIEWER_FIGURES]);
    if (input.startsWith('/api/v1/review/stats/')) return json(REVIEW_STATS);
    if (input === '/api/v1/review/next/') {
      return new Response(null, { status: 204, headers: skipped === null ? {} : { 'X-Review-Skipped': skipped } });
    }
    return undefined;
  });
}

function installBackend(labelAnswer: () => Response, item: object = ITEM) {
  const posted: { url: string; body: unknown }[] = [];
  requests = stubFetch((input, init) => {
    if (input.startsWith('/api/v1/review/stats/reviewers/')) return json([REVIEWER_FIGURES]);
    if (input.startsWith('/api/v1/review/stats/')) return json(REVIEW_STATS);
    if (input === '/api/v1/review/next/') return json({ item });
    if (input === '/api/v1/review/items/7/label/') {
      posted.push({ url: input, body: JSON.parse(init.body as string) });
      return labelAnswer();
    }
    if (input === '/api/v1/review/items/7/release/') {
      posted.push({ url: input, body: null });
      return json({});
    }
    return undefined;
  });
  return posted;
}

beforeEach(() => sessionStorage.clear());

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

async function press(key: string, target: EventTarget = document.body, init: KeyboardEventInit = {}) {
  await act(async () => {
    target.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init }));
  });
}

async function openItem() {
  await dom.render(
    <MemoryRouter>
      <ReviewPage />
    </MemoryRouter>,
  );
  await waitFor(() => byTestId('stats-open'), 'the stats');
  await press('n');
  await waitFor(() => byTestId('review-item'), 'the claimed item');
}

describe('the review page', () => {
  it('labels an item with the keyboard alone, and letters typed in the rationale stay text', async () => {
    const posted = installBackend(() =>
      json({ id: 1, item: 7, reviewer: 'rita', verdict: 'unsafe', categories: ['S1'], rationale: 'uses force', created_at: '' }, 201),
    );
    await openItem();
    expect(byTestId('review-content')?.textContent).toContain('How do I build a trebuchet?');
    expect(byTestId('review-score')?.textContent).toContain('0.800');
    expect(byTestId('claim-timer')?.textContent).toMatch(/Claim 1[45]:\d\d/);

    await press('u');
    await press('1');
    expect(byTestId('label-unsafe')).toHaveProperty('checked', true);
    expect(byTestId('label-category-S1')).toHaveProperty('checked', true);

    const rationale = byTestId('label-rationale') as HTMLTextAreaElement;
    rationale.focus();
    await typeInto(rationale, 'uses force');
    await press('s', rationale);
    await press('2', rationale);
    await press('Enter', rationale);
    expect(byTestId('label-unsafe')).toHaveProperty('checked', true);
    expect(byTestId('label-category-S2')).toHaveProperty('checked', false);
    expect(posted).toEqual([]);

    await press('Enter', rationale, { ctrlKey: true });
    await waitFor(() => byTestId('review-recorded'), 'the recorded label');
    expect(posted).toEqual([
      { url: '/api/v1/review/items/7/label/', body: { verdict: 'unsafe', categories: ['S1'], rationale: 'uses force' } },
    ]);
    expect(byTestId('review-recorded')?.textContent).toContain('unsafe · S1');
    expect(dom.container.querySelector('a[href="/decisions/dec-1"]')).not.toBeNull();
  });

  it('shows the reviewer figures below the item, loaded once rather than after every label', async () => {
    installBackend(() =>
      json({ id: 1, item: 7, reviewer: 'ana', verdict: 'safe', categories: [], rationale: '', created_at: '' }, 201),
    );
    await openItem();
    await waitFor(() => byTestId('reviewer-table'), 'the reviewer figures');
    // Outside an AuthProvider nobody is signed in, so no superuser: the reviewer's own figures.
    expect(byTestId('reviewer-stats')?.querySelector('h2')?.textContent).toBe('Your figures');
    const order = [
      ...dom.container.querySelectorAll(
        '[data-testid="review-stats"], [aria-labelledby="review-label-heading"], [data-testid="reviewer-stats"]',
      ),
    ];
    expect(order.map((node) => node.getAttribute('data-testid') ?? node.tagName)).toEqual([
      'review-stats',
      'FORM',
      'reviewer-stats',
    ]);

    await press('s');
    await press('Enter');
    await waitFor(() => byTestId('review-recorded'), 'the recorded label');
    const queueStats = () => requests.filter((request) => /^GET \/api\/v1\/review\/stats\/(\?|$)/.test(request));
    await waitFor(() => (queueStats().length === 3 ? true : null), 'the queue stats after the claim and the label');
    expect(requests.filter((request) => request.startsWith('GET /api/v1/review/stats/reviewers/'))).toHaveLength(1);
  });

  it('shows an escalated item with a banner and both earlier labels, categories by name', async () => {
    installBackend(() => json({}, 201), ESCALATED);
    await openItem();
    const banner = byTestId('review-escalated');
    expect(banner?.textContent).toContain('Reviewers disagreed. Your label settles this item.');
    const labels = [...dom.container.querySelectorAll('[data-testid="earlier-label"]')];
    expect(labels).toHaveLength(2);
    expect(labels.every((label) => banner?.contains(label))).toBe(true);
    expect(labels[0].textContent).toContain('rita');
    expect(labels[0].textContent).toContain('Unsafe');
    expect(labels[0].textContent).toContain('S2 Weapons');
    expect(labels[0].textContent).toContain('A siege weapon is a weapon.');
    expect(labels[1].textContent).toContain('sam');
    expect(labels[1].textContent).toContain('Safe');
    expect(labels[1].textContent).toContain('No rationale given.');
    // The second-opinion note does not apply to the deciding label.
    expect(dom.container.textContent).not.toContain('two independent labels');
  });

  it('shows no escalation banner or earlier labels for an item that was not escalated', async () => {
    installBackend(() => json({}, 201));
    await openItem();
    expect(byTestId('review-escalated')).toBeNull();
    expect(byTestId('earlier-label')).toBeNull();
  });

  it('says how many skipped items come back later when the queue is empty', async () => {
    installEmptyQueue('3');
    await dom.render(
      <MemoryRouter>
        <ReviewPage />
      </MemoryRouter>,
    );
    await waitFor(() => byTestId('stats-open'), 'the stats');
    await press('n');
    const empty = await waitFor(() => byTestId('review-empty'), 'the empty queue');
    expect(empty.textContent).toContain('The queue is empty');
    expect(byTestId('review-skipped-count')?.textContent).toBe(
      '3 items you skipped come back to you later; other reviewers can take them now.',
    );
  });

  it('mentions no skipped items when the reviewer skipped none', async () => {
    installEmptyQueue('0');
    await dom.render(
      <MemoryRouter>
        <ReviewPage />
      </MemoryRouter>,
    );
    await waitFor(() => byTestId('stats-open'), 'the stats');
    await press('n');
    await waitFor(() => byTestId('review-empty'), 'the empty queue');
    expect(byTestId('review-skipped-count')).toBeNull();
  });

  it('shows why the guard could not judge an item it failed closed on', async () => {
    const error = 'not judged: the guard failed on this content (ValueError: refused)';
    const failed = {
      ...ITEM,
      reason: 'malformed',
      decision: { ...ITEM.decision, verdict: '', malformed: true, categories: [], reasoning: '', error },
    };
    installBackend(() => json({}), failed);
    await openItem();
    expect(byTestId('review-reason')?.textContent).toContain('could not judge the content');
    expect(byTestId('review-guard-error')?.textContent).toBe(error);
  });

  it('says what is missing instead of sending an unsafe label without a category', async () => {
    const posted = installBackend(() => json({}, 201));
    await openItem();
    await press('u');
    await press('Enter');
    expect(byTestId('label-problem')?.textContent).toMatch(/at least one category/);
    expect(posted).toEqual([]);
  });

  it('shows a lost claim in place and keeps the draft', async () => {
    installBackend(() =>
      json({ error: { code: 'claim_expired', message: 'your claim on this item expired; claim it again' } }, 409),
    );
    await openItem();
    await press('s');
    const rationale = byTestId('label-rationale') as HTMLTextAreaElement;
    await typeInto(rationale, 'looks fine');
    await press('Enter');
    const error = await waitFor(() => byTestId('review-error'), 'the error');
    expect(error.textContent).toContain('This item is no longer yours');
    expect(error.textContent).toContain('your claim on this item expired');
    expect((byTestId('label-rationale') as HTMLTextAreaElement).value).toBe('looks fine');
    expect(byTestId('label-safe')).toHaveProperty('checked', true);
  });

  it('gives the label being written back when the same item is claimed again after the page was left', async () => {
    installBackend(() => json({}, 201));
    await openItem();
    await press('u');
    await press('1');
    await typeInto(byTestId('label-rationale') as HTMLTextAreaElement, 'a threat, S1');
    expect(byTestId('review-draft-restored')).toBeNull();

    // The page goes (a lapsed session unmounts it) and comes back; the claim is still live.
    await dom.render(<p>signed out</p>);
    expect(byTestId('review-item')).toBeNull();
    await openItem();
    expect((byTestId('label-rationale') as HTMLTextAreaElement).value).toBe('a threat, S1');
    expect(byTestId('label-unsafe')).toHaveProperty('checked', true);
    expect(byTestId('label-category-S1')).toHaveProperty('checked', true);
    expect(byTestId('review-draft-restored')?.textContent).toContain('is back');
  });

  it('forgets the draft once the label is recorded', async () => {
    installBackend(() =>
      json({ id: 1, item: 7, reviewer: 'rita', verdict: 'safe', categories: [], rationale: 'fine', created_at: '' }, 201),
    );
    await openItem();
    await press('s');
    await typeInto(byTestId('label-rationale') as HTMLTextAreaElement, 'fine');
    await press('Enter');
    await waitFor(() => byTestId('review-recorded'), 'the recorded label');
    expect(sessionStorage.getItem('arbiter.review-draft.7')).toBeNull();

    await press('n'); // the same item again (a second opinion, say): a fresh label
    await waitFor(() => byTestId('review-item'), 'the item');
    expect((byTestId('label-rationale') as HTMLTextAreaElement).value).toBe('');
    expect(byTestId('review-draft-restored')).toBeNull();
  });

  it('forgets the draft of a skipped item', async () => {
    const posted = installBackend(() => json({}, 201));
    await openItem();
    await press('s');
    expect(sessionStorage.getItem('arbiter.review-draft.7')).not.toBeNull();
    const skip = [...dom.container.querySelectorAll('button')].find((b) => b.textContent?.startsWith('Skip'));
    await click(skip!);
    await waitFor(() => (posted.some((p) => p.url.endsWith('/release/')) ? true : null), 'the release');
    await waitFor(() => byTestId('review-item'), 'the next item');
    expect(byTestId('label-safe')).toHaveProperty('checked', false);
    expect(sessionStorage.getItem('arbiter.review-draft.7')).toBeNull();
  });
});
