import { describe, expect, it } from 'vitest';

import { categoryAnchor, citedCategories, traceSegments } from './trace';

const CATEGORIES = [
  { code: 'S1', name: 'Violent crimes', description: 'Violence against people.' },
  { code: 'S10', name: 'Hate', description: 'Demeaning people for who they are.' },
  { code: 'S5', name: 'Drugs', description: 'Buying or making illegal drugs.' },
];

describe('traceSegments', () => {
  it('finds codes as whole words only, so S1 is not found inside S10', () => {
    const segments = traceSegments('This is S10, not S1. S1x is no code.', CATEGORIES);
    expect(segments.filter((s) => s.code).map((s) => [s.text, s.code])).toEqual([
      ['S10', 'S10'],
      ['S1', 'S1'],
    ]);
    expect(segments.map((s) => s.text).join('')).toBe('This is S10, not S1. S1x is no code.');
  });

  it('finds category names in any case', () => {
    const segments = traceSegments('It describes violent crimes and drugs.', CATEGORIES);
    expect(segments.filter((s) => s.code).map((s) => [s.text, s.code])).toEqual([
      ['violent crimes', 'S1'],
      ['drugs', 'S5'],
    ]);
  });

  it('keeps the trace as one plain segment without categories, and nothing for no trace', () => {
    expect(traceSegments('plain text', [])).toEqual([{ text: 'plain text' }]);
    expect(traceSegments('', CATEGORIES)).toEqual([]);
  });

  it('treats regex characters in names as text', () => {
    const segments = traceSegments('a (c++) b', [{ code: 'X1', name: '(c++)', description: '' }]);
    expect(segments).toEqual([{ text: 'a ' }, { text: '(c++)', code: 'X1' }, { text: ' b' }]);
  });
});

describe('citedCategories', () => {
  it('lists the verdict’s categories first, then those only the trace names', () => {
    const segments = traceSegments('Mentions drugs.', CATEGORIES);
    expect(citedCategories(['S1'], segments, CATEGORIES).map((c) => [c.category.code, c.inVerdict])).toEqual([
      ['S1', true],
      ['S5', false],
    ]);
  });
});

describe('categoryAnchor', () => {
  it('is a safe fragment id', () => {
    expect(categoryAnchor('S1')).toBe('policy-category-S1');
    expect(categoryAnchor('a b/c')).toBe('policy-category-a_b_c');
  });
});
