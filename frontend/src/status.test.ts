import { describe, expect, it } from 'vitest';

import { checkDetails, humanize, roleLabel } from './status';

describe('checkDetails', () => {
  it('shows the error first and the latency last', () => {
    expect(
      checkDetails({ ok: false, latency_ms: 2001.3, error: 'TimeoutError: no guard worker answered a ping within 2.0s' }),
    ).toEqual([
      { label: 'Error', value: 'TimeoutError: no guard worker answered a ping within 2.0s' },
      { label: 'Latency', value: '2001.3 ms' },
    ]);
  });

  it('shows the other details a check reports', () => {
    expect(checkDetails({ ok: true, vendor: 'postgresql', latency_ms: 1.2 })).toEqual([
      { label: 'Vendor', value: 'postgresql' },
      { label: 'Latency', value: '1.2 ms' },
    ]);
    expect(checkDetails({ ok: true, worker: { hostname: 'gpu-1', model: 'smollm2' } })).toEqual([
      { label: 'Worker', value: 'hostname=gpu-1, model=smollm2' },
    ]);
  });
});

describe('labels', () => {
  it('humanizes check names and roles', () => {
    expect(humanize('guard_worker')).toBe('Guard worker');
    expect(roleLabel('ml_engineer')).toBe('ML engineer');
    expect(roleLabel('auditor')).toBe('Auditor');
  });
});
