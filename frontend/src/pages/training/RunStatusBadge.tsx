export function RunStatusBadge({ status }: { status: string }) {
  const kind =
    status === 'succeeded' ? 'badge--ok' : status === 'failed' ? 'badge--failed' : status === 'running' ? 'badge--info' : 'badge--neutral';
  return <span className={`badge ${kind}`}>{status}</span>;
}
