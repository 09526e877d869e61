/** Finds a policy's categories in the guard's reasoning trace so the page can highlight and link them. */

import type { PolicyCategory } from './decisions';

export interface TraceSegment {
  text: string;
  /** The category this piece of text names, if any. */
  code?: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Splits `trace` into plain text and mentions of the policy's categories, by code ("S1", whole word
 * only, so S1 is not found inside S10) or by name (any case). Longer terms win over shorter ones.
 */
export function traceSegments(trace: string, categories: readonly PolicyCategory[]): TraceSegment[] {
  const byTerm = new Map<string, string>();
  for (const category of categories) {
    if (category.code) byTerm.set(category.code.toLowerCase(), category.code);
    if (category.name.trim()) byTerm.set(category.name.trim().toLowerCase(), category.code);
  }
  if (!trace) return [];
  if (byTerm.size === 0) return [{ text: trace }];
  const terms = [...byTerm.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${terms.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');

  const segments: TraceSegment[] = [];
  let last = 0;
  for (const match of trace.matchAll(pattern)) {
    const start = match.index ?? 0;
    if (start > last) segments.push({ text: trace.slice(last, start) });
    segments.push({ text: match[0], code: byTerm.get(match[0].toLowerCase()) });
    last = start + match[0].length;
  }
  if (last < trace.length) segments.push({ text: trace.slice(last) });
  return segments;
}

/** The categories to list beside the trace: the ones the verdict cites, then others the trace names. */
export function citedCategories(
  cited: readonly string[],
  segments: readonly TraceSegment[],
  categories: readonly PolicyCategory[],
): { category: PolicyCategory; inVerdict: boolean }[] {
  const mentioned = new Set(segments.flatMap((segment) => (segment.code ? [segment.code] : [])));
  return categories
    .filter((category) => cited.includes(category.code) || mentioned.has(category.code))
    .map((category) => ({ category, inVerdict: cited.includes(category.code) }))
    .sort((a, b) => Number(b.inVerdict) - Number(a.inVerdict));
}

/** The in-page anchor of a category's text. */
export function categoryAnchor(code: string): string {
  return `policy-category-${code.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}
