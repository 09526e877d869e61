import type { ReadinessCheck } from './api';

/** "guard_worker" → "Guard worker". */
export function humanize(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : name;
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, inner]) => `${key}=${typeof inner === 'object' && inner !== null ? JSON.stringify(inner) : String(inner)}`)
      .join(', ');
  }
  return JSON.stringify(value);
}

export interface CheckDetail {
  label: string;
  value: string;
}

/** The check's details to show, error first, latency last, everything else in between. */
export function checkDetails(check: ReadinessCheck): CheckDetail[] {
  const details: CheckDetail[] = [];
  if (check.error !== undefined) details.push({ label: 'Error', value: formatValue(check.error) });
  for (const [key, value] of Object.entries(check)) {
    if (key === 'ok' || key === 'error' || key === 'latency_ms') continue;
    details.push({ label: humanize(key), value: formatValue(value) });
  }
  if (typeof check.latency_ms === 'number') details.push({ label: 'Latency', value: `${check.latency_ms} ms` });
  return details;
}

const ROLE_LABELS: Record<string, string> = {
  policy_editor: 'Policy editor',
  reviewer: 'Reviewer',
  ml_engineer: 'ML engineer',
};

export function roleLabel(role: string): string {
  return ROLE_LABELS[role] ?? humanize(role);
}
