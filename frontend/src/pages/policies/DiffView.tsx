import { Fragment } from 'react';

import { diffStats, parseUnifiedDiff, type DiffCell } from '../../lib/diff';

function Cell({ cell, side }: { cell: DiffCell | null; side: 'old' | 'new' }) {
  const kind = cell?.kind ?? 'empty';
  return (
    <>
      <td className={`diff__number diff__number--${kind}`} aria-label={cell ? `${side} line ${cell.number}` : undefined}>
        {cell?.number ?? ''}
      </td>
      <td className={`diff__text diff__text--${kind}`} data-kind={kind}>
        {cell ? (
          <>
            <span className="visually-hidden">{kind === 'removed' ? 'removed: ' : kind === 'added' ? 'added: ' : ''}</span>
            {cell.text}
          </>
        ) : null}
      </td>
    </>
  );
}

/** Two versions side by side: the old one on the left, the new one on the right. */
export function DiffView({ diff, fromLabel, toLabel }: { diff: string; fromLabel: string; toLabel: string }) {
  const rows = parseUnifiedDiff(diff);
  const stats = diffStats(rows);
  if (rows.length === 0) {
    return (
      <p className="muted" data-testid="diff-empty">
        The two versions have the same source.
      </p>
    );
  }
  return (
    <div className="diff-wrap">
      <p className="muted" data-testid="diff-stats">
        {stats.removed} line{stats.removed === 1 ? '' : 's'} removed, {stats.added} added
      </p>
      <table className="diff" data-testid="diff">
        <colgroup>
          <col className="diff__col-number" />
          <col />
          <col className="diff__col-number" />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th scope="col" colSpan={2}>
              {fromLabel}
            </th>
            <th scope="col" colSpan={2}>
              {toLabel}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <Fragment key={index}>
              {row.kind === 'hunk' ? (
                <tr className="diff__hunk">
                  <td colSpan={4}>{row.header}</td>
                </tr>
              ) : (
                <tr>
                  <Cell cell={row.left} side="old" />
                  <Cell cell={row.right} side="new" />
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}
