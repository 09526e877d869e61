import { useSearchParams } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { DiffView } from './DiffView';
import { policyApi, type PolicyVersion } from './policyApi';
import { VersionOptions } from './VersionOptions';

function pick(value: string | null, versions: PolicyVersion[], fallback: number): number {
  const number = Number(value);
  return versions.some((v) => v.number === number) ? number : fallback;
}

export function DiffTab({ slug, versions }: { slug: string; versions: PolicyVersion[] }) {
  const [params, setParams] = useSearchParams();
  const latest = versions[0]?.number ?? 1;
  const from = pick(params.get('from'), versions, versions[1]?.number ?? latest);
  const to = pick(params.get('to'), versions, latest);
  const diff = useResource(() => policyApi.diff(slug, from, to), `${slug}@${from}..${to}`, {
    keepErrorWhileLoading: true,
  });

  const choose = (name: 'from' | 'to', value: string) => {
    const next = new URLSearchParams(params);
    next.set(name, value);
    if (!next.has(name === 'from' ? 'to' : 'from')) next.set(name === 'from' ? 'to' : 'from', String(name === 'from' ? to : from));
    setParams(next, { replace: true });
  };

  return (
    <section className="card" aria-labelledby="diff-heading" aria-busy={diff.loading}>
      <div className="card__header">
        <h2 id="diff-heading">Diff</h2>
        <div className="compare">
          <label htmlFor="diff-from">From</label>
          <select id="diff-from" value={from} onChange={(event) => choose('from', event.target.value)}>
            <VersionOptions versions={versions} />
          </select>
          <label htmlFor="diff-to">To</label>
          <select id="diff-to" value={to} onChange={(event) => choose('to', event.target.value)}>
            <VersionOptions versions={versions} />
          </select>
        </div>
      </div>
      {diff.error !== null && <ErrorMessage title="Could not load the diff" error={diff.error} onRetry={diff.reload} />}
      {diff.loading && !diff.data && <Loading label="Loading the diff…" />}
      {diff.data && <DiffView diff={diff.data.diff} fromLabel={`Version ${from}`} toLabel={`Version ${to}`} />}
    </section>
  );
}
