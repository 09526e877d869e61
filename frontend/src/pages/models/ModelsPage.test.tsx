import { MemoryRouter } from 'react-router-dom';
import { describe, expect, it } from 'vitest';

import { click, json, setupTestRoot, stubFetch } from '../../test/dom';
import { ModelsPage } from './ModelsPage';

const base = {
  base: 'SmolLM2-135M-Instruct',
  path: '/m',
  template_version: 'rsafe-1',
  source: 'trained',
  metrics: {},
  parent: null,
  training_run: null,
};
const ACTIVE = { ...base, id: 2, name: 'guard-run-2', status: 'active', created_at: '2026-11-24T10:00:00Z', activated_at: '2026-11-24T10:00:00Z' };
const OLD = { ...base, id: 1, name: 'guard-run-1', status: 'retired', metrics: { f1: 0.61 }, created_at: '2026-11-20T10:00:00Z', activated_at: '2026-11-20T10:00:00Z' };

const dom = setupTestRoot();
const { byTestId, waitFor } = dom;

function backend(activate: () => Response) {
  return stubFetch((input) => {
    if (input.startsWith('/api/v1/models/?')) return json({ count: 2, next: null, previous: null, results: [ACTIVE, OLD] });
    if (input === '/api/v1/models/1/activate/') return activate();
    return undefined;
  });
}

async function render() {
  await dom.render(
    <MemoryRouter>
      <ModelsPage />
    </MemoryRouter>,
  );
  await waitFor(() => byTestId('models-table'), 'the models');
}

describe('the models page', () => {
  it('asks before rolling back, and only then calls the API', async () => {
    const calls = backend(() => json({ ...OLD, status: 'active' }));
    await render();
    expect(byTestId('models-table')?.textContent).toContain('f1');
    await click(byTestId('activate-1')!);
    expect(dom.container.textContent).toContain('Roll back to guard-run-1?');
    expect(dom.container.textContent).toContain('It replaces guard-run-2');
    expect(calls.filter((call) => call.startsWith('POST'))).toEqual([]);

    await click(byTestId('confirm-activate')!);
    await waitFor(() => dom.container.querySelector('[role="status"]'), 'the confirmation');
    expect(calls).toContain('POST /api/v1/models/1/activate/');
    expect(dom.container.querySelector('[role="status"]')?.textContent).toContain('guard-run-1 is now the active model');
  });

  it('shows a refused activation in the confirmation, not swallowed', async () => {
    backend(() => json({ error: { code: 'permission_denied', message: "This needs the 'ml_engineer' role." } }, 403));
    await render();
    await click(byTestId('activate-1')!);
    await click(byTestId('confirm-activate')!);
    const alert = await waitFor(() => dom.container.querySelector('[role="alert"]'), 'the error');
    expect(alert.textContent).toContain("This needs the 'ml_engineer' role.");
  });
});
