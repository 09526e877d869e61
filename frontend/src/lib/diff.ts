/**
 * Turns the server's unified diff (`GET /api/v1/policies/{slug}/diff/`) into side-by-side rows: old
 * version on the left, new on the right, a run of removed lines paired with the added lines after it.
 */

export interface DiffCell {
  number: number;
  text: string;
  kind: 'context' | 'removed' | 'added';
}

export type DiffRow =
  | { kind: 'hunk'; header: string }
  | { kind: 'line'; left: DiffCell | null; right: DiffCell | null };

export interface DiffStats {
  added: number;
  removed: number;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@(.*)$/;

export function parseUnifiedDiff(diff: string): DiffRow[] {
  const rows: DiffRow[] = [];
  let removed: DiffCell[] = [];
  let added: DiffCell[] = [];
  let oldLine = 0;
  let newLine = 0;

  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i++) {
      rows.push({ kind: 'line', left: removed[i] ?? null, right: added[i] ?? null });
    }
    removed = [];
    added = [];
  };

  for (const line of diff.split('\n')) {
    const hunk = HUNK.exec(line);
    if (hunk) {
      flush();
      oldLine = Number(hunk[1]);
      newLine = Number(hunk[2]);
      rows.push({ kind: 'hunk', header: line });
    } else if (line.startsWith('--- ') || line.startsWith('+++ ') || line.startsWith('\\')) {
      // File headers and "\ No newline at end of file" carry no content.
    } else if (line.startsWith('-')) {
      removed.push({ number: oldLine++, text: line.slice(1), kind: 'removed' });
    } else if (line.startsWith('+')) {
      added.push({ number: newLine++, text: line.slice(1), kind: 'added' });
    } else if (line.startsWith(' ')) {
      flush();
      const text = line.slice(1);
      rows.push({
        kind: 'line',
        left: { number: oldLine++, text, kind: 'context' },
        right: { number: newLine++, text, kind: 'context' },
      });
    }
  }
  flush();
  return rows;
}

export function diffStats(rows: readonly DiffRow[]): DiffStats {
  let added = 0;
  let removed = 0;
  for (const row of rows) {
    if (row.kind !== 'line') continue;
    if (row.left?.kind === 'removed') removed++;
    if (row.right?.kind === 'added') added++;
  }
  return { added, removed };
}
