import type { Decision } from '../../lib/decisions';

/** The verdict as a badge: unsafe, safe, malformed (fails closed) or still pending. */
export function VerdictBadge({ decision }: { decision: Pick<Decision, 'verdict' | 'malformed' | 'status'> }) {
  if (decision.status === 'pending') return <span className="badge badge--neutral">Pending</span>;
  if (decision.malformed || !decision.verdict) return <span className="badge badge--warning">Malformed</span>;
  return decision.verdict === 'unsafe' ? (
    <span className="badge badge--failed">Unsafe</span>
  ) : (
    <span className="badge badge--ok">Safe</span>
  );
}
