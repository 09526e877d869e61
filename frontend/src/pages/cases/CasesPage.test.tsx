import { act } from 'react';
import { MemoryRouter, useLocation } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
import { CasesPage } from './CasesPage';

const REVIEWED = {
  id: 2,
  source: 'review',
  messages: [
    { role: 'user', content: 'An earlier turn.' },
    { role: 'user', content: 'How do I get back at my neighbour for the noise?' },
  ],
  target: 'prompt',
  verdict: 'unsafe',
  categories: ['S1'],
  rationale: 'Seeks revenge.',
  policy: { slug: 'core-safety', version: 1 },
  decision: '3f6c0a52-8d1e-4f8e-9a55-0e5e1d7c1a11',
  external_id: '',
  metadata: {},
  split: 'train',
  created_at: '2026-11-24T10:00:00Z',
};
const IMPORTED = {
  ...REVIEWED,
  id: 1,
  source: 'import',
  messages: [{ role: 'user', content: `What is the capital of France? ${'x'.repeat(300)}` }],
  verdict: 'safe',
  categories: [],
  policy: null,
  decision: null,
  split: 'eval',
  created_at: '2026-11-23T10:00:00Z',
};
const POLICIES = [
  { slug: 'core-safety', title: 'Core', description: '', latest_version: 2, published_version: 1, created_at: '2026-11-01T00:00:00Z' },
  { slug: 'draft-only', title: 'Draft', description: '', latest_version: 1, published_version: null, created_at: '2026-11-01T00:00:00Z' },
];

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

interface Upload {
  url: string;
  csrf: string | undefined;
  contentType: string | undefined;
  fields: Record<string, string>;
  fileName: string | undefined;
}

/** A fake backend: the cases list (two cases), the policies, and the import answering `importAnswer`. */
function backend(importAnswer: () => Response = () => json({ imported: 2, duplicates: 1, total: 3 }, 201)) {
  const uploads: Upload[] = [];
  const requests = stubFetch((input, init) => {
    if (input.startsWith('/api/v1/cases/?')) return json({ count: 2, next: null, previous: null, results: [REVIEWED, IMPORTED] });
    if (input === '/api/v1/policies/') return json(POLICIES);
    if (input === '/api/v1/cases/import/' && init.method === 'POST') {
      const form = init.body as FormData;
      const headers = init.headers as Record<string, string>;
      const fields: Record<string, string> = {};
      form.forEach((value, key) => {
        if (typeof value === 'string') fields[key] = value;
      });
      const file = form.get('file');
      uploads.push({
        url: input,
        csrf: headers['X-CSRFToken'],
        contentType: headers['Content-Type'],
        fields,
        fileName: file instanceof File ? file.name : undefined,
      });
      return importAnswer();
    }
    return undefined;
  });
  return { requests, uploads };
}

function LocationProbe() {
  const location = useLocation();
  return <output data-testid="location">{location.search}</output>;
}

async function render(path = '/cases') {
  await dom.render(
    <MemoryRouter initialEntries={[path]}>
      <CasesPage />
      <LocationProbe />
    </MemoryRouter>,
  );
  await waitFor(() => byTestId('cases-table'), 'the cases');
}

const listRequests = (requests: string[]) => requests.filter((request) => request.startsWith('GET /api/v1/cases/?'));

/** Puts `file` in the file input as a user choosing it would. */
async function chooseFile(file: File) {
  const input = byTestId('cases-import-file') as HTMLInputElement;
  const files = { 0: file, length: 1, item: () => file } as unknown as FileList;
  Object.defineProperty(input, 'files', { configurable: true, value: files });
  await act(async () => {
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

async function choose(select: HTMLElement, value: string) {
  await act(async () => {
    (select as HTMLSelectElement).value = value;
    select.dispatchEvent(new Event('change', { bubbles: true }));
  });
}

describe('the cases page', () => {
  it('lists the cases of the filters in the URL, and keeps a changed filter in the URL and the request', async () => {
    const { requests } = backend();
    await render('/cases?split=train&source=review&verdict=unsafe&page=2');

    expect(listRequests(requests)).toEqual([
      'GET /api/v1/cases/?split=train&source=review&verdict=unsafe&limit=50&offset=50',
    ]);
    expect((byTestId('cases-filter-split') as HTMLSelectElement).value).toBe('train');
    expect((byTestId('cases-filter-source') as HTMLSelectElement).value).toBe('review');
    expect((byTestId('cases-filter-verdict') as HTMLSelectElement).value).toBe('unsafe');
    expect(byTestId('cases-count')?.textContent).toBe('2 cases');

    const rows = [...dom.container.querySelectorAll('[data-testid="case-row"]')];
    expect(rows).toHaveLength(2);
    // A review case: the last message's text, its policy, and a link to its decision.
    expect(rows[0].textContent).toContain('How do I get back at my neighbour for the noise?');
    expect(rows[0].textContent).not.toContain('An earlier turn.');
    expect(rows[0].textContent).toContain('Unsafe');
    expect(rows[0].textContent).toContain('S1');
    expect(rows[0].textContent).toContain('core-safety v1');
    expect(rows[0].querySelector('a')?.getAttribute('href')).toBe(`/decisions/${REVIEWED.decision}`);
    // An imported case: truncated content, no policy, no decision link.
    expect(rows[1].textContent).toContain('What is the capital of France?');
    expect(rows[1].textContent).toContain('…');
    expect(rows[1].textContent).not.toContain('x'.repeat(200));
    expect(rows[1].querySelector('a')).toBeNull();
    expect(byTestId('cases-export')?.getAttribute('href')).toBe('/api/v1/cases/export/');

    // Changing a filter goes back to the first page, with the other filters kept.
    await choose(byTestId('cases-filter-verdict')!, 'safe');
    await waitFor(() => (listRequests(requests).length === 2 ? true : null), 'the refiltered list');
    expect(listRequests(requests)[1]).toBe('GET /api/v1/cases/?split=train&source=review&verdict=safe&limit=50&offset=0');
    expect(byTestId('location')?.textContent).toBe('?split=train&source=review&verdict=safe');

    await choose(byTestId('cases-filter-split')!, '');
    await waitFor(() => (listRequests(requests).length === 3 ? true : null), 'the list without a split');
    expect(listRequests(requests)[2]).toBe('GET /api/v1/cases/?source=review&verdict=safe&limit=50&offset=0');
  });

  it('imports a file with the chosen policy, says what it imported and reloads the list', async () => {
    document.cookie = 'csrftoken=tok123';
    const { requests, uploads } = backend();
    await render();
    // Only a policy with a published version can check categories.
    await waitFor(() => dom.container.querySelector('#cases-import-policy option[value="core-safety"]'), 'the policies');
    expect(dom.container.querySelector('#cases-import-policy option[value="draft-only"]')).toBeNull();

    await chooseFile(new File(['prompt,label,categories\nhi,safe,\nhurt them,unsafe,S1\n'], 'cases.csv', { type: 'text/csv' }));
    await choose(byTestId('cases-import-policy')!, 'core-safety');
    await click(byTestId('cases-import-submit')!);

    const result = await waitFor(() => byTestId('cases-import-result'), 'the import result');
    expect(result.textContent).toBe('Imported 2, 1 already stored (of 3 rows)');
    expect(uploads).toEqual([
      {
        url: '/api/v1/cases/import/',
        csrf: 'tok123',
        contentType: undefined,
        fields: { policy: 'core-safety' },
        fileName: 'cases.csv',
      },
    ]);
    await waitFor(() => (listRequests(requests).length === 2 ? true : null), 'the list reloaded');
    expect(byTestId('cases-import-errors')).toBeNull();
  });

  it('shows the message and every row error of a refused file beside the form', async () => {
    backend(() =>
      json(
        {
          error: {
            code: 'invalid',
            message: "row 2: label: must be safe or unsafe, not 'maybe' (2 problem(s); nothing imported)",
            param: 'label',
          },
          errors: [
            { row: 2, line: 3, field: 'label', message: "must be safe or unsafe, not 'maybe'", code: 'invalid' },
            { row: 3, line: 5, field: 'categories', message: 'not in the policy: S99', code: 'invalid' },
          ],
        },
        400,
      ),
    );
    await render();
    await chooseFile(new File(['prompt,label\na,safe\nb,maybe\nc,unsafe\n'], 'bad.csv', { type: 'text/csv' }));
    await click(byTestId('cases-import-submit')!);

    const list = await waitFor(() => byTestId('cases-import-errors'), 'the row errors');
    expect([...list.querySelectorAll('li')].map((item) => item.textContent)).toEqual([
      "Line 3, label: must be safe or unsafe, not 'maybe'",
      'Line 5, categories: not in the policy: S99',
    ]);
    const alert = byTestId('cases-import-error')!;
    expect(alert.textContent).toContain('nothing was imported');
    expect(alert.textContent).toContain("row 2: label: must be safe or unsafe, not 'maybe'");
    // Beside the form, not elsewhere on the page.
    expect(alert.closest('form')).toBe(byTestId('cases-import-submit')!.closest('form'));
    expect(byTestId('cases-import-result')).toBeNull();
  });

  it('says nothing was imported when the chosen policy has nothing published', async () => {
    backend(() =>
      json({ error: { code: 'not_published', message: "policy 'drafts' has no published version" } }, 409),
    );
    await render();
    await chooseFile(new File(['prompt,label\na,safe\n'], 'ok.csv', { type: 'text/csv' }));
    await click(byTestId('cases-import-submit')!);

    const alert = await waitFor(() => byTestId('cases-import-error'), 'the refusal');
    expect(alert.textContent).toContain('nothing was imported');
    expect(alert.textContent).toContain('has no published version');
  });

  it('asks for a file when none is chosen, without a request', async () => {
    const { requests } = backend();
    await render();
    await click(byTestId('cases-import-submit')!);

    const problem = await waitFor(() => byTestId('cases-import-file-error'), 'the missing file message');
    expect(problem.textContent).toBe('Choose a CSV or JSONL file to import.');
    expect(byTestId('cases-import-file')?.getAttribute('aria-invalid')).toBe('true');
    expect(requests.filter((request) => request.startsWith('POST'))).toEqual([]);

    // Choosing a file clears the message.
    await chooseFile(new File(['prompt,label\nhi,safe\n'], 'cases.csv'));
    expect(byTestId('cases-import-file-error')).toBeNull();
  });
});
