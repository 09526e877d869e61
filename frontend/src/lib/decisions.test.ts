import { describe, expect, it } from 'vitest';

import type { ApiClient } from '../api';
import {
  describeWebhook,
  cursorFromUrl,
  decisionListHref,
  decisionListState,
  decisionsCsvUrl,
  EMPTY_FILTERS,
  fetchDecisions,
  filterProblems,
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  formatMatchCount,
  labelsGiven,
  webhookPollMs,
  type CursorPage,
  type Decision,
} from './decisions';

describe('decisionsCsvUrl', () => {
  it('asks the export for CSV with the table’s filters', () => {
    expect(decisionsCsvUrl({ ...EMPTY_FILTERS, verdict: 'unsafe', category: 'S1' })).toBe(
      '/api/v1/decisions/export/?verdict=unsafe&category=S1&format=csv',
    );
    expect(decisionsCsvUrl(EMPTY_FILTERS)).toBe('/api/v1/decisions/export/?format=csv');
  });
});

describe('filters', () => {
  it('round-trips through the address, dropping empty ones', () => {
    const filters = { ...EMPTY_FILTERS, verdict: 'unsafe', policy: 'core-safety', since: '2026-11-01' };
    const search = filtersToSearch(filters);
    expect(search.toString()).toBe('verdict=unsafe&policy=core-safety&since=2026-11-01');
    expect(filtersFromSearch(search)).toEqual(filters);
  });

  it('sends the webhook status and keeps it in the address', () => {
    const filters = { ...EMPTY_FILTERS, webhook: 'failed' };
    expect(filtersToQuery(filters).get('webhook')).toBe('failed');
    expect(filtersFromSearch(filtersToSearch(filters)).webhook).toBe('failed');
  });

  it('asks for malformed outputs apart from the verdicts, keeping the choice in the address', () => {
    const filters = { ...EMPTY_FILTERS, verdict: 'malformed' };
    const query = filtersToQuery(filters);
    expect([query.get('verdict'), query.get('malformed')]).toEqual([null, 'true']);
    expect(filtersFromSearch(filtersToSearch(filters)).verdict).toBe('malformed');
  });

  it('sends whole local days, the end day included', () => {
    const query = filtersToQuery({ ...EMPTY_FILTERS, since: '2026-11-01', until: '2026-11-03', category: 'S1' });
    expect(query.get('category')).toBe('S1');
    expect(query.get('since')).toBe(new Date(2026, 10, 1).toISOString());
    expect(query.get('until')).toBe(new Date(2026, 10, 4).toISOString());
  });

  it('explains bad filters before calling the API', () => {
    expect(filterProblems(EMPTY_FILTERS)).toEqual({});
    expect(filterProblems({ ...EMPTY_FILTERS, policy: 'p', version: 'two' }).version).toMatch(/whole number/);
    expect(filterProblems({ ...EMPTY_FILTERS, version: '2' }).version).toMatch(/Choose a policy/);
    expect(filterProblems({ ...EMPTY_FILTERS, since: '2026-11-05', until: '2026-11-01' }).until).toMatch(/before/);
  });
});

describe('fetchDecisions', () => {
  const EMPTY_PAGE: CursorPage<Decision> = { count: 0, count_exact: true, next: null, previous: null, results: [] };

  /** A fake API client at the edge: records the paths it is asked for and answers an empty page. */
  function makeFakeClient() {
    const asked: string[] = [];
    const fakeClient = {
      get: async (path: string) => {
        asked.push(path);
        return EMPTY_PAGE;
      },
    } as unknown as ApiClient;
    return { fakeClient, asked };
  }

  it('asks for the newest page, a page long, when there is no cursor', async () => {
    const { fakeClient, asked } = makeFakeClient();
    expect(await fetchDecisions({ ...EMPTY_FILTERS, verdict: 'unsafe' }, null, undefined, fakeClient)).toEqual(EMPTY_PAGE);
    expect(asked).toEqual(['/api/v1/decisions/?verdict=unsafe&limit=25']);
  });

  it('sends the cursor with the filters, and never an offset', async () => {
    const { fakeClient, asked } = makeFakeClient();
    await fetchDecisions({ ...EMPTY_FILTERS, policy: 'core-safety' }, 'cD0yMDI2LTExLTI0+/=', undefined, fakeClient);
    const query = new URL(asked[0], 'http://localhost').searchParams;
    expect(query.get('policy')).toBe('core-safety');
    expect(query.get('limit')).toBe('25');
    expect(query.get('cursor')).toBe('cD0yMDI2LTExLTI0+/=');
    expect(query.has('offset')).toBe(false);
  });
});

describe('cursorFromUrl', () => {
  it('reads the cursor of an absolute next or previous link', () => {
    expect(
      cursorFromUrl('http://127.0.0.1:8000/api/v1/decisions/?cursor=cD0yMDI2LTExLTI0%2B&limit=25&verdict=unsafe'),
    ).toBe('cD0yMDI2LTExLTI0+');
  });

  it('gives null when there is no link', () => {
    expect(cursorFromUrl(null)).toBeNull();
  });

  it('gives null for a link without a cursor (the newest page)', () => {
    expect(cursorFromUrl('http://127.0.0.1:8000/api/v1/decisions/?limit=25&verdict=unsafe')).toBeNull();
    expect(cursorFromUrl('http://127.0.0.1:8000/api/v1/decisions/?cursor=&limit=25')).toBeNull();
  });
});

describe('formatMatchCount', () => {
  it('shows an exact count as it is, with thousands separators', () => {
    expect(formatMatchCount(3, true)).toBe('3 matching');
    expect(formatMatchCount(0, true)).toBe('0 matching');
    expect(formatMatchCount(1234, true)).toBe('1,234 matching');
  });

  it('shows a capped count as a lower bound', () => {
    expect(formatMatchCount(10000, false)).toBe('10,000+ matching');
  });
});

describe('describeWebhook', () => {
  const when = (iso: string) => `at ${iso}`;
  const base = { attempts: 1, last_status_code: null, last_error: '', delivered_at: null, next_attempt_at: null };

  it('says when it was delivered and after how many attempts', () => {
    expect(describeWebhook({ ...base, status: 'delivered', attempts: 2, last_status_code: 204, delivered_at: 'T' }, when)).toBe(
      'delivered at T (2 attempts)',
    );
  });

  it('says why it failed, or is still being tried, and when next', () => {
    const refused = { ...base, last_error: 'connection refused' };
    expect(describeWebhook({ ...refused, status: 'failed', attempts: 12 }, when)).toBe('failed after 12 attempts: connection refused');
    expect(describeWebhook({ ...refused, status: 'pending', next_attempt_at: 'N' }, when)).toBe(
      '1 attempt so far: connection refused; next at N',
    );
    expect(describeWebhook({ ...base, status: 'pending', attempts: 0, next_attempt_at: 'N' }, when)).toBe('not tried yet');
    expect(describeWebhook({ ...base, status: 'skipped', last_error: 'the API key was revoked' }, when)).toBe(
      'not sent: the API key was revoked',
    );
  });
});

describe('describeWebhook while an attempt is in flight', () => {
  const when = (iso: string) => `at ${iso}`;
  const pending = { status: 'pending', attempts: 1, last_status_code: null, last_error: '', delivered_at: null };

  it('says it is trying now, not when the attempt’s lease ends', () => {
    expect(describeWebhook({ ...pending, next_attempt_at: null, in_flight: true }, when)).toBe('trying now');
    // An older server sends no in_flight: a pending delivery with no next attempt is being tried.
    expect(describeWebhook({ ...pending, next_attempt_at: null }, when)).toBe('trying now');
    expect(describeWebhook({ ...pending, attempts: 0, next_attempt_at: null }, when)).toBe('trying now');
  });

  it('counts the attempt in flight and gives the error of the one before it as such', () => {
    expect(
      describeWebhook({ ...pending, attempts: 3, last_status_code: 503, last_error: 'HTTP 503', next_attempt_at: null, in_flight: true }, when),
    ).toBe('trying now (attempt 3); the attempt before: HTTP 503');
  });

  it('gives the next attempt’s time only while it waits for one', () => {
    expect(
      describeWebhook({ ...pending, attempts: 2, last_error: 'refused', next_attempt_at: 'N', in_flight: false }, when),
    ).toBe('2 attempts so far: refused; next at N');
  });
});

describe('webhookPollMs', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const webhook = { status: 'pending', attempts: 1, last_status_code: null, last_error: '', delivered_at: null };

  it('follows an attempt in flight, or one due soon, every few seconds', () => {
    expect(webhookPollMs({ ...webhook, next_attempt_at: null, in_flight: true }, now)).toBe(3000);
    expect(webhookPollMs({ ...webhook, next_attempt_at: '2026-12-07T12:00:30Z', in_flight: false }, now)).toBe(3000);
    expect(webhookPollMs({ ...webhook, next_attempt_at: '2026-12-07T11:59:00Z', in_flight: false }, now)).toBe(3000);
  });

  it('asks less often while a delivery waits out a long back-off', () => {
    expect(webhookPollMs({ ...webhook, next_attempt_at: '2026-12-07T12:30:00Z', in_flight: false }, now)).toBe(30_000);
  });

  it('stops once the delivery is settled, or when there is none', () => {
    for (const status of ['delivered', 'failed', 'skipped']) {
      expect(webhookPollMs({ ...webhook, status, next_attempt_at: null }, now)).toBeNull();
    }
    expect(webhookPollMs(null, now)).toBeNull();
    expect(webhookPollMs(undefined, now)).toBeNull();
  });
});

describe('decisionListHref', () => {
  it('leads back to the list the decision was opened from, its filters and page kept', () => {
    expect(decisionListHref(decisionListState('verdict=unsafe&cursor=cD0y%2B%2F%3D'))).toBe(
      '/decisions?verdict=unsafe&cursor=cD0y%2B%2F%3D',
    );
    expect(decisionListHref(decisionListState('?verdict=unsafe'))).toBe('/decisions?verdict=unsafe');
  });

  it('leads to the whole list when the page was opened directly or from elsewhere', () => {
    expect(decisionListHref(null)).toBe('/decisions');
    expect(decisionListHref(undefined)).toBe('/decisions');
    expect(decisionListHref({ from: '/review' })).toBe('/decisions');
    expect(decisionListHref(decisionListState(''))).toBe('/decisions');
  });

  it('keeps whatever the state holds a query of the list', () => {
    expect(decisionListHref({ listSearch: '//evil.example/#x' })).toBe('/decisions?%2F%2Fevil.example%2F%23x=');
    expect(decisionListHref({ listSearch: 5 })).toBe('/decisions');
  });
});

describe('labelsGiven', () => {
  const label = { id: 1, reviewer: 'rita', verdict: 'safe' as const, categories: [], rationale: '', created_at: '' };

  it('counts the labels given even while they are hidden from this viewer', () => {
    expect(labelsGiven({ labels_given: 1, labels: [] })).toBe(1);
  });

  it('counts the visible labels when the server gives no count', () => {
    expect(labelsGiven({ labels: [label, { ...label, id: 2 }] })).toBe(2);
  });
});
