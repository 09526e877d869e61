import { describe, expect, it } from 'vitest';

import { formatCountdown, formatDelta, formatDuration, formatMs, formatPercent, formatScore } from './format';

describe('formats', () => {
  it('shows latencies in ms below a second', () => {
    expect(formatMs(842.4)).toBe('842 ms');
    expect(formatMs(1240)).toBe('1.24 s');
    expect(formatMs(null)).toBe('—');
  });

  it('shows durations and countdowns', () => {
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(192)).toBe('3 min 12 s');
    expect(formatDuration(7500)).toBe('2 h 5 min');
    expect(formatDuration(null)).toBe('—');
    expect(formatCountdown(61_000)).toBe('1:01');
    expect(formatCountdown(-5)).toBe('0:00');
  });

  it('shows scores, percentages and signed changes', () => {
    expect(formatScore(0.12345)).toBe('0.123');
    expect(formatPercent(0.845)).toBe('84.5%');
    expect(formatDelta(0.0421)).toBe('+0.042');
    expect(formatDelta(-0.01)).toBe('−0.010');
    expect(formatDelta(0.00001)).toBe('±0.000');
  });
});
