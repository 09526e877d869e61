import { describe, expect, it } from 'vitest';

import { diffStats, parseUnifiedDiff, type DiffRow } from './diff';

const DIFF = `--- core-safety@1
+++ core-safety@2
@@ -1,4 +1,5 @@
 id: core-safety
-title: Old title
+title: New title
+description: Added.
 categories:
   - code: S1
@@ -10,2 +11,1 @@
-  - {input: a, expect: safe}
 end: true
`;

const cells = (rows: DiffRow[]) =>
  rows.map((row) =>
    row.kind === 'hunk'
      ? 'hunk'
      : `${row.left ? `${row.left.kind[0]}${row.left.number}` : '-'}|${row.right ? `${row.right.kind[0]}${row.right.number}` : '-'}`,
  );

describe('parseUnifiedDiff', () => {
  it('pairs removed lines with the added lines after them, with both sides numbered', () => {
    expect(cells(parseUnifiedDiff(DIFF))).toEqual([
      'hunk',
      'c1|c1',
      'r2|a2',
      '-|a3',
      'c3|c4',
      'c4|c5',
      'hunk',
      'r10|-',
      'c11|c11',
    ]);
  });

  it('keeps the text of each side', () => {
    const row = parseUnifiedDiff(DIFF)[2];
    expect(row).toEqual({
      kind: 'line',
      left: { number: 2, text: 'title: Old title', kind: 'removed' },
      right: { number: 2, text: 'title: New title', kind: 'added' },
    });
  });

  it('ignores file headers and "no newline" notes', () => {
    const rows = parseUnifiedDiff('--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n');
    expect(cells(rows)).toEqual(['hunk', 'r1|a1']);
  });

  it('gives no rows for identical versions', () => {
    expect(parseUnifiedDiff('')).toEqual([]);
  });
});

describe('diffStats', () => {
  it('counts added and removed lines', () => {
    expect(diffStats(parseUnifiedDiff(DIFF))).toEqual({ added: 2, removed: 2 });
  });
});
