/** Labelled cases as the cases page sees them: types, list filters, fetchers, the import and the export. */

import { api, type ApiClient, type FieldError } from '../api';
import type { Message, Page } from './decisions';

export interface Case {
  id: number;
  source: 'review' | 'import' | string;
  messages: Message[];
  target: 'prompt' | 'response' | string;
  verdict: 'safe' | 'unsafe';
  categories: string[];
  rationale: string;
  policy: { slug: string; version: number } | null;
  /** The decision a review case was labelled on; null for an imported case (or a deleted decision). */
  decision: string | null;
  external_id: string;
  metadata: Record<string, unknown>;
  split: 'train' | 'eval' | string;
  created_at: string;
}

/** What an import did: rows stored, rows already stored (skipped) and the rows of the file. */
export interface ImportReport {
  imported: number;
  duplicates: number;
  total: number;
}

// --- Filters ----------------------------------------------------------------------------------

export interface CaseFilters {
  split: string;
  source: string;
  verdict: string;
}

export const CASE_FILTER_NAMES = ['split', 'source', 'verdict'] as const;

/** The values the API accepts for each filter; anything else in the URL is ignored, not sent. */
export const CASE_FILTER_CHOICES: Record<keyof CaseFilters, readonly string[]> = {
  split: ['train', 'eval'],
  source: ['review', 'import'],
  verdict: ['safe', 'unsafe'],
};

export const CASES_PAGE_SIZE = 50;

export function caseFiltersFromSearch(search: URLSearchParams): CaseFilters {
  const filters: CaseFilters = { split: '', source: '', verdict: '' };
  for (const name of CASE_FILTER_NAMES) {
    const value = search.get(name)?.trim() ?? '';
    filters[name] = CASE_FILTER_CHOICES[name].includes(value) ? value : '';
  }
  return filters;
}

/** The page number (from 1) in the URL; anything else reads as the first page. */
export function casePageFromSearch(search: URLSearchParams): number {
  const raw = search.get('page') ?? '';
  return /^[1-9]\d{0,6}$/.test(raw) ? Number(raw) : 1;
}

/** The page's URL query: the filters that are set, and the page number past the first. */
export function caseSearch(filters: CaseFilters, page = 1): URLSearchParams {
  const search = new URLSearchParams();
  for (const name of CASE_FILTER_NAMES) if (filters[name]) search.set(name, filters[name]);
  if (page > 1) search.set('page', String(page));
  return search;
}

// --- Fetchers ---------------------------------------------------------------------------------

/** One page of cases, newest first (limit/offset paging with an exact count). */
export function fetchCases(
  filters: CaseFilters,
  page: number,
  signal?: AbortSignal,
  client: ApiClient = api,
): Promise<Page<Case>> {
  const query = new URLSearchParams();
  for (const name of CASE_FILTER_NAMES) if (filters[name]) query.set(name, filters[name]);
  query.set('limit', String(CASES_PAGE_SIZE));
  query.set('offset', String((page - 1) * CASES_PAGE_SIZE));
  return client.get<Page<Case>>(`/api/v1/cases/?${query}`, { signal });
}

/**
 * Uploads a CSV or JSONL file of cases. With a policy, the rows' categories are checked against its
 * published version. All rows are imported or none: a bad file throws an ApiError naming every bad row.
 */
export function importCases(
  file: File,
  options: { policy?: string; format?: string } = {},
  client: ApiClient = api,
): Promise<ImportReport> {
  const form = new FormData();
  form.append('file', file);
  if (options.format) form.append('format', options.format);
  if (options.policy) form.append('policy', options.policy);
  return client.post<ImportReport>('/api/v1/cases/import/', form);
}

/** Where the Export JSONL link downloads every case (the server streams it). */
export const CASES_EXPORT_URL = '/api/v1/cases/export/';

// --- Display ----------------------------------------------------------------------------------

/** The text the case judges: its last message's, cut to `max` characters with an ellipsis. */
export function caseContent(
  item: Pick<Case, 'messages'>,
  max = 140,
): { text: string; full: string; truncated: boolean } {
  const last = item.messages.length > 0 ? item.messages[item.messages.length - 1] : null;
  const full = (last?.content ?? '').replace(/\s+/g, ' ').trim();
  if (full.length <= max) return { text: full, full, truncated: false };
  return { text: `${full.slice(0, max - 1).trimEnd()}…`, full, truncated: true };
}

/** "Imported 2, 1 already stored (of 3 rows)". */
export function describeImport(report: ImportReport): string {
  const rows = `${report.total.toLocaleString('en-US')} row${report.total === 1 ? '' : 's'}`;
  return `Imported ${report.imported.toLocaleString('en-US')}, ${report.duplicates.toLocaleString('en-US')} already stored (of ${rows})`;
}

/** One error of a refused import as a line: "Line 3, label: must be safe or unsafe, not 'maybe'" (the
 * file's line the row starts on, as an editor numbers it; the row's position when no line is given). */
export function describeImportError(error: FieldError): string {
  const place = error.line !== undefined ? `Line ${error.line}` : error.row !== undefined ? `Row ${error.row}` : '';
  const where = [place, error.field ?? ''].filter(Boolean).join(', ');
  return where ? `${where}: ${error.message}` : error.message;
}

/** "1 case", "1,234 cases". */
export function formatCaseCount(count: number): string {
  return `${count.toLocaleString('en-US')} case${count === 1 ? '' : 's'}`;
}
