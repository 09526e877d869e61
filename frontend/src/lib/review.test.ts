import { describe, expect, it } from 'vitest';

import { formatOverturns, statsSince } from './review';

describe('statsSince', () => {
  it('starts a window that many days before now, and all time has none', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    expect(statsSince('1', now)).toBe('2026-12-06T12:00:00.000Z');
    expect(statsSince('30', now)).toBe('2026-11-07T12:00:00.000Z');
    expect(statsSince('all', now)).toBeNull();
  });
});

describe('formatOverturns', () => {
  it('gives the count, what it was out of, and the rate', () => {
    expect(formatOverturns({ compared: 5, overturned: 2, overturn_rate: 0.4 })).toBe('2 of 5 (40%)');
    expect(formatOverturns({ compared: 400, overturned: 1, overturn_rate: 0.0025 })).toBe('1 of 400 (0.3%)');
    expect(formatOverturns({ compared: 3, overturned: 0, overturn_rate: 0 })).toBe('0 of 3 (0%)');
  });

  it('shows a dash when nothing could be compared', () => {
    expect(formatOverturns({ compared: 0, overturned: 0, overturn_rate: null })).toBe('—');
  });
});
