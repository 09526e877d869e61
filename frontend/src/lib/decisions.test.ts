import { describe, expect, it } from 'vitest';

import type { ApiClient } from '../api';
import {
  describeWebhook,
  cursorFromUrl,
  decisionsCsvUrl,
  EMPTY_FILTERS,
  fetchDecisions,
  filterProblems,
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  formatMatchCount,
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
    expect(describeWebhook({ ...base, status: 'pending', attempts: 0 }, when)).toBe('not tried yet');
    expect(describeWebhook({ ...base, status: 'skipped', last_error: 'the API key was revoked' }, when)).toBe(
      'not sent: the API key was revoked',
    );
  });
});
