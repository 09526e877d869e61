import { describe, expect, it } from 'vitest';

import { ApiError, type ApiClient } from '../api';
import {
  csvCell,
  cursorFromUrl,
  EMPTY_FILTERS,
  exportDecisionsCsv,
  fetchDecisions,
  filterProblems,
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  formatMatchCount,
  jsonlToCsv,
  type CursorPage,
  type Decision,
  type DecisionDetail,
} from './decisions';

const DECISION: DecisionDetail = {
  id: '0b5e',
  status: 'completed',
  flagged: true,
  verdict: 'unsafe',
  malformed: false,
  content_truncated: false,
  categories: ['S1', 'S5'],
  category_scores: {},
  score: 0.91,
  reasoning: 'It asks, "how".\nS1 applies.',
  policy: { slug: 'core-safety', version: 2, sha256: 'abc' },
  model: { id: 1, name: 'smollm2', template_version: 'rsafe-1' },
  review: { status: 'done', reason: 'flagged' },
  target: 'prompt',
  reasoning_mode: 'full',
  external_id: '',
  metadata: {},
  error: '',
  latency_ms: 812.5,
  queue_ms: 3,
  inference_ms: 800,
  created_at: '2026-11-24T10:00:00Z',
  completed_at: '2026-11-24T10:00:01Z',
  messages: [{ role: 'user', content: '=HYPERLINK("x")' }],
  raw_output: '',
  template_version: 'rsafe-1',
};

describe('csvCell', () => {
  it('quotes commas, quotes and line breaks', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(0.5)).toBe('0.5');
  });

  it('defuses content a spreadsheet would run as a formula, but not negative numbers', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('+cmd')).toBe("'+cmd");
    expect(csvCell('-0.25')).toBe('-0.25');
  });
});

describe('jsonlToCsv', () => {
  it('writes a header and one row per decision, with the content and the trace', () => {
    const second = { ...DECISION, id: 'second', external_id: '=cmd|calc' };
    const { csv, rows } = jsonlToCsv(`${JSON.stringify(DECISION)}\n\n${JSON.stringify(second)}\n`);
    expect(rows).toBe(2);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(
      'id,created_at,status,verdict,flagged,categories,score,policy,policy_version,model,review_status,review_reason,latency_ms,queue_ms,inference_ms,external_id,content,reasoning',
    );
    expect(lines[1].startsWith('0b5e,2026-11-24T10:00:00Z,completed,unsafe,true,S1 S5,0.91,core-safety,2,smollm2,done,flagged,812.5,3,800,,')).toBe(true);
    expect(csv).toContain('"user: =HYPERLINK(""x"")"');
    expect(lines[2]).toContain(",'=cmd|calc,");
    expect(csv).toContain('"It asks, ""how"".\nS1 applies."');
    expect(lines[3]).toBe('');
  });

  it('names the line that is not JSON', () => {
    expect(() => jsonlToCsv('{"id": 1}\nnot json')).toThrow(/line 2/);
  });
});

describe('filters', () => {
  it('round-trips through the address, dropping empty ones', () => {
    const filters = { ...EMPTY_FILTERS, verdict: 'unsafe', policy: 'core-safety', since: '2026-11-01' };
    const search = filtersToSearch(filters);
    expect(search.toString()).toBe('verdict=unsafe&policy=core-safety&since=2026-11-01');
    expect(filtersFromSearch(search)).toEqual(filters);
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

describe('exportDecisionsCsv', () => {
  it('reads the export with the table’s filters', async () => {
    const asked: string[] = [];
    const fakeFetch = (async (input: string) => {
      asked.push(input);
      return new Response(`${JSON.stringify(DECISION)}\n`, { status: 200 });
    }) as unknown as typeof fetch;
    const { rows } = await exportDecisionsCsv({ ...EMPTY_FILTERS, verdict: 'unsafe' }, fakeFetch);
    expect(rows).toBe(1);
    expect(asked).toEqual(['/api/v1/decisions/export/?verdict=unsafe']);
  });

  it('shows the server’s error and a network failure as ApiErrors', async () => {
    const denied = (async () =>
      new Response(JSON.stringify({ error: { code: 'permission_denied', message: 'No.' } }), { status: 403 })) as unknown as typeof fetch;
    await expect(exportDecisionsCsv(EMPTY_FILTERS, denied)).rejects.toMatchObject({ status: 403, message: 'No.' });
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    await expect(exportDecisionsCsv(EMPTY_FILTERS, offline)).rejects.toBeInstanceOf(ApiError);
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
