import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { json, setupTestRoot, stubFetch } from '../../test/dom';
import { TrainingRunPage } from './TrainingRunPage';

const RUN = {
  id: 4,
  status: 'succeeded',
  trigger: 'manual',
  requested_by: 'mia',
  config: { steps: 3 },
  dataset: { train: 40, eval: 10, new_cases: 30, replay_cases: 10 },
  sft_ran: true,
  steps: [
    { step: 1, reward_mean: 0.2, reward_std: 0.1, accuracy: 0.3, format_rate: 0.5 },
    { step: 2, reward_mean: 0.4, reward_std: 0.1, accuracy: 0.5, format_rate: 0.9 },
    { step: 3, reward_mean: 0.6, reward_std: 0.05, accuracy: 0.7, format_rate: 1 },
  ],
  eval_before: { f1: 0.5, precision: 0.5, recall: 0.5, accuracy: 0.5, format_rate: 0.8, per_category_recall: { S1: 0.4 } },
  eval_after: { f1: 0.62, precision: 0.6, recall: 0.64, accuracy: 0.6, format_rate: 1, per_category_recall: { S1: 0.6 } },
  gate: { promoted: true, reason: 'F1 improved by 0.12' },
  candidate: 9,
  error: '',
  logs: 'step 1\nstep 2',
  created_at: '2026-11-24T10:00:00Z',
  started_at: '2026-11-24T10:00:01Z',
  finished_at: '2026-11-24T10:03:00Z',
  duration_s: 179,
};

const dom = setupTestRoot();
const { waitFor } = dom;

async function renderRun(id: string) {
  await dom.render(
    <MemoryRouter initialEntries={[`/training/${id}`]}>
      <Routes>
        <Route path="/training/:id" element={<TrainingRunPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe('a training run page', () => {
  it('draws the curves and compares the evaluation before and after', async () => {
    stubFetch(() => json(RUN));
    await renderRun('4');
    const table = await waitFor(() => dom.container.querySelector('[data-testid="eval-table"]'), 'the evaluation');
    const reward = dom.container.querySelector('[data-testid="chart-reward"]')!;
    expect(reward.querySelectorAll('path.chart__line')).toHaveLength(1);
    expect(reward.querySelectorAll('path.chart__band')).toHaveLength(1);
    expect(reward.querySelector('svg')?.getAttribute('aria-label')).toContain('Mean reward: 3 steps, last 0.60 at step 3');
    expect(dom.container.querySelector('[data-testid="chart-accuracy"]')!.querySelectorAll('path.chart__line')).toHaveLength(2);
    const f1 = [...table.querySelectorAll('tr')].find((row) => row.querySelector('th')?.textContent === 'F1')!;
    expect([...f1.querySelectorAll('td')].map((cell) => cell.textContent)).toEqual(['0.500', '0.620', '+0.120']);
    expect(dom.container.querySelector('[data-testid="run-gate"]')?.textContent).toBe('Promoted: F1 improved by 0.12');
  });

  it('shows a missing run as an error with a retry', async () => {
    stubFetch(() => json({ error: { code: 'not_found', message: 'no training run 99' } }, 404));
    await renderRun('99');
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain('no training run 99');
    expect(alert.textContent).toContain('Try again');
  });
});
