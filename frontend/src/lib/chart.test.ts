import { describe, expect, it } from 'vitest';

import { bandPath, finitePoints, linearScale, linePath, plotScales, tickLabel, ticks, xDomain, yDomain } from './chart';

describe('scales', () => {
  it('maps a domain onto a range, and a flat domain onto its middle', () => {
    const scale = linearScale([0, 10], [100, 200]);
    expect(scale.map(0)).toBe(100);
    expect(scale.map(5)).toBe(150);
    expect(linearScale([3, 3], [0, 10]).map(3)).toBe(5);
  });

  it('puts larger values higher on the chart (SVG y grows down)', () => {
    const { x, y } = plotScales({ width: 100, height: 50, margin: { top: 0, right: 0, bottom: 10, left: 20 } }, [0, 1], [0, 1]);
    expect(x.map(0)).toBe(20);
    expect(y.map(0)).toBe(40);
    expect(y.map(1)).toBe(0);
  });
});

describe('ticks', () => {
  it('picks round steps', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(0, 37, 4)).toEqual([0, 10, 20, 30]);
    expect(ticks(-0.3, 0.3, 3)).toEqual([-0.2, 0, 0.2]);
    expect(ticks(2, 2)).toEqual([2]);
  });

  it('labels them briefly', () => {
    expect(tickLabel(10)).toBe('10');
    expect(tickLabel(0.25)).toBe('0.25');
    expect(tickLabel(1.5)).toBe('1.5');
  });
});

describe('domains', () => {
  const series = [{ label: 'a', points: [{ x: 1, y: 0.2 }, { x: 4, y: 0.6 }] }];

  it('covers the data, padded, or a fixed range widened by the data', () => {
    const [min, max] = yDomain(series);
    expect(min).toBeCloseTo(0.18);
    expect(max).toBeCloseTo(0.62);
    expect(yDomain(series, [0, 1])).toEqual([0, 1]);
    expect(yDomain([{ label: 'b', points: [{ x: 1, y: 1.4 }] }], [0, 1])).toEqual([0, 1.4]);
    expect(xDomain(series)).toEqual([1, 4]);
  });

  it('gives a flat line some room and an empty chart a default', () => {
    expect(yDomain([{ label: 'c', points: [{ x: 1, y: 0.5 }] }])).toEqual([0, 1]);
    expect(yDomain([])).toEqual([0, 1]);
    expect(xDomain([{ label: 'd', points: [{ x: 3, y: 1 }] }])).toEqual([2, 4]);
  });
});

describe('paths', () => {
  const x = linearScale([0, 2], [0, 200]);
  const y = linearScale([0, 1], [100, 0]);

  it('draws points in step order', () => {
    expect(linePath([{ x: 2, y: 1 }, { x: 0, y: 0 }, { x: 1, y: 0.5 }], x, y)).toBe('M0 100 L100 50 L200 0');
    expect(linePath([], x, y)).toBe('');
  });

  it('closes a band along the upper edge and back along the lower', () => {
    expect(bandPath([{ x: 0, low: 0, high: 0.5 }, { x: 2, low: 0.5, high: 1 }], x, y)).toBe('M0 50 L200 0 L200 50 L0 100 Z');
  });

  it('leaves a gap for steps without a value instead of drawing a zero', () => {
    expect(finitePoints([{ x: 1, y: 0.5 }, { x: 2, y: null }, { x: 3, y: undefined }, { x: 4, y: Number.NaN }, { x: 5, y: 0 }])).toEqual([
      { x: 1, y: 0.5 },
      { x: 5, y: 0 },
    ]);
  });
});
