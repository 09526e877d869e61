export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function percent(value: number | null | undefined): string {
  return typeof value === 'number' ? `${Math.round(value * 1000) / 10}%` : '–';
}

export const EVENT_LABELS: Record<string, string> = {
  created: 'Policy created',
  version_created: 'Version saved',
  published: 'Published',
  rolled_back: 'Rolled back',
  publish_forced: 'Published past the gate',
};
