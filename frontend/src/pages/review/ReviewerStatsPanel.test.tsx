import { act } from 'react';
import { describe, expect, it } from 'vitest';

import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
import { REVIEWER_FIGURES } from '../../test/fixtures';
import { ReviewerStatsPanel } from './ReviewerStatsPanel';

const REVIEWERS = '/api/v1/review/stats/reviewers/';

/** ben: a malformed output and no second opinion, no claim time, one disagreement overruled. */
const BEN = {
  reviewer: { id: 4, username: 'ben' },
  labels: 2,
  unsafe_rate: 0.5,
  mean_handle_s: null,
  guard: { compared: 0, agreed: 0, agreement_rate: null },
  second_opinions: { paired: 0, agreed: 0, agreement_rate: null },
  escalations: { settled: 2, upheld: 0, overruled: 1 },
};

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

const heading = () => dom.container.querySelector('h2')?.textContent;
const rows = () =>
  [...dom.container.querySelectorAll('[data-testid="reviewer-row"]')].map((row) =>
    [...row.children].map((cell) => cell.textContent),
  );
const buttonNamed = (name: string) =>
  [...dom.container.querySelectorAll('button')].find((button) => button.textContent === name);

describe('the reviewer figures panel', () => {
  it('shows a superuser every reviewer, busiest first, under "Reviewers"', async () => {
    stubFetch((url) => (url.startsWith(REVIEWERS) ? json([REVIEWER_FIGURES, BEN]) : undefined));
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    await waitFor(() => byTestId('reviewer-table'), 'the table');

    expect(heading()).toBe('Reviewers');
    expect([...dom.container.querySelectorAll('thead th')].map((cell) => cell.textContent)).toEqual([
      'Reviewer',
      'Labels',
      'Unsafe',
      'Time per label',
      'Agrees with guard',
      'Agrees with second reviewer',
      'Escalations settled',
      'Upheld / overruled',
    ]);
    expect(rows()).toEqual([
      ['ana', '3', '100%', '31 s', '67% of 3', '50% of 2', '0', '1 / 0'],
      ['ben', '2', '50%', '—', '—', '—', '2', '0 / 1'],
    ]);
    // The table scrolls on its own in a narrow window rather than widening the page.
    expect(byTestId('reviewer-table')?.parentElement?.className).toBe('table-scroll');
  });

  it('explains each column that compares a reviewer with someone else', async () => {
    stubFetch((url) => (url.startsWith(REVIEWERS) ? json([REVIEWER_FIGURES]) : undefined));
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    const help = await waitFor(() => byTestId('reviewer-stats-help'), 'the help');
    const lines = [...help.querySelectorAll('li')].map((line) => line.textContent);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^Agrees with guard: .*guard’s.*malformed/);
    expect(lines[1]).toMatch(/^Agrees with second reviewer: .*independent reviewer/);
    expect(lines[2]).toMatch(/^Upheld \/ overruled: .*third reviewer/);
    const titled = [...dom.container.querySelectorAll('thead th[title]')].map((cell) => cell.textContent);
    expect(titled).toEqual(
      expect.arrayContaining(['Agrees with guard', 'Agrees with second reviewer', 'Upheld / overruled']),
    );
  });

  it('shows another reviewer their own figures under "Your figures"', async () => {
    stubFetch((url) => (url.startsWith(REVIEWERS) ? json([BEN]) : undefined));
    await dom.render(<ReviewerStatsPanel isSuperuser={false} />);
    await waitFor(() => byTestId('reviewer-table'), 'the table');
    expect(heading()).toBe('Your figures');
    expect(rows().map((row) => row[0])).toEqual(['ben']);
  });

  it('says so when nobody labelled anything in the period', async () => {
    stubFetch((url) => (url.startsWith(REVIEWERS) ? json([]) : undefined));
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    const empty = await waitFor(() => byTestId('reviewer-stats-empty'), 'the empty state');
    expect(empty.textContent).toBe('No labels in this period.');
    expect(byTestId('reviewer-table')).toBeNull();
    expect(byTestId('reviewer-stats-help')).toBeNull();
  });

  it('shows an error with the server’s message, and tries again', async () => {
    let fail = true;
    const requests = stubFetch((url) => {
      if (!url.startsWith(REVIEWERS)) return undefined;
      if (fail) {
        const errors = [{ field: 'since', message: 'Enter a valid date/time.' }];
        return json({ error: { code: 'invalid', message: 'Invalid query.' }, errors }, 400);
      }
      return json([REVIEWER_FIGURES]);
    });
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain('Could not load the reviewers’ figures');
    expect(alert.textContent).toContain('since: Enter a valid date/time.');

    fail = false;
    await click(buttonNamed('Try again')!);
    await waitFor(() => byTestId('reviewer-table'), 'the table');
    expect(dom.container.querySelector('[role="alert"]')).toBeNull();
    expect(requests).toHaveLength(2);
  });

  it('never shows one period\'s figures under another while it loads or after it fails', async () => {
    let calls = 0;
    stubFetch((url) => {
      if (!url.startsWith(REVIEWERS)) return undefined;
      calls += 1;
      return calls === 1
        ? json([REVIEWER_FIGURES])
        : json({ error: { code: 'invalid', message: 'since: bad' }, errors: [] }, 400);
    });
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    await waitFor(() => byTestId('reviewer-table'), 'the 30-day table');
    const select = byTestId('reviewer-stats-period') as HTMLSelectElement;
    await act(async () => {
      select.value = '1';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(byTestId('reviewer-table')).toBeNull();
    await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(byTestId('reviewer-table')).toBeNull();
  });

  it('asks for the last 30 days first, for the chosen period after, and again on Refresh', async () => {
    const requests = stubFetch((url) => (url.startsWith(REVIEWERS) ? json([REVIEWER_FIGURES]) : undefined));
    const before = Date.now();
    await dom.render(<ReviewerStatsPanel isSuperuser />);
    await waitFor(() => byTestId('reviewer-table'), 'the table');
    const since = (request: string) => new URL(request.split(' ')[1], 'http://x').searchParams.get('since');
    const daysBack = (request: string) => (before - Date.parse(since(request) ?? '')) / 86_400_000;
    expect(requests).toHaveLength(1);
    expect(daysBack(requests[0])).toBeCloseTo(30, 1);

    const select = byTestId('reviewer-stats-period') as HTMLSelectElement;
    const choose = async (value: string) => {
      await act(async () => {
        select.value = value;
        select.dispatchEvent(new Event('change', { bubbles: true }));
      });
    };
    await choose('7');
    await waitFor(() => requests.length === 2 || null, 'the 7-day request');
    expect(requests[1].startsWith(`GET ${REVIEWERS}?since=`)).toBe(true);
    expect(daysBack(requests[1])).toBeCloseTo(7, 1);

    await choose('all');
    await waitFor(() => requests.length === 3 || null, 'the all-time request');
    expect(requests[2]).toBe(`GET ${REVIEWERS}`);

    await waitFor(() => (buttonNamed('Refresh')?.disabled === false ? true : null), 'the loaded table');
    await click(buttonNamed('Refresh')!);
    await waitFor(() => requests.length === 4 || null, 'the refresh');
    expect(requests[3]).toBe(`GET ${REVIEWERS}`);
  });
});
