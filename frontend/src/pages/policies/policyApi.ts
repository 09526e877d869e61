/** The policy and playground endpoints, typed; every call goes through the app's one API client. */
import { api, type ApiClient } from '../../api';
import type { PolicySummary, PolicyVersion } from '../../lib/policies';

export type { PolicyCategory, PolicySummary, PolicyVersion } from '../../lib/policies';

export interface PolicyEvent {
  kind: 'created' | 'version_created' | 'published' | 'rolled_back' | 'publish_forced' | string;
  version: number | null;
  actor: string | null;
  note: string;
  created_at: string;
}

export interface PolicyTestResult {
  index: number;
  name: string;
  input: string;
  target: string;
  expected: string;
  expected_categories: string[];
  got: string;
  categories: string[];
  score: number | null;
  reasoning: string;
  passed: boolean;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'error';

export interface PolicyTestRun {
  id: number;
  version: number;
  status: JobStatus;
  total: number;
  passed_count: number;
  pass_rate: number | null;
  required_pass_rate: number;
  passed: boolean;
  model_name: string;
  error: string;
  created_at: string;
  finished_at: string | null;
  results: PolicyTestResult[];
}

export interface BacktestMetrics {
  precision?: number;
  recall?: number;
  f1?: number;
  accuracy?: number;
  [name: string]: unknown;
}

export interface PolicyBacktest {
  id: number;
  version: number;
  baseline_version: number | null;
  status: JobStatus;
  sample_size: number | null;
  cases_total: number;
  metrics: BacktestMetrics;
  baseline_metrics: BacktestMetrics;
  flips: { case: number; content: string; label: string; before: string; after: string }[];
  model_name: string;
  error: string;
  created_at: string;
  finished_at: string | null;
}

export interface PlaygroundMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

export interface PlaygroundRequest {
  policy: string;
  policy_version?: number;
  source?: string;
  input?: string;
  messages?: PlaygroundMessage[];
  target?: 'prompt' | 'response';
  reasoning?: 'full' | 'none';
}

export interface PlaygroundResult {
  verdict: 'safe' | 'unsafe' | null;
  flagged: boolean;
  malformed: boolean;
  score: number;
  categories: string[];
  category_scores: Record<string, number>;
  reasoning: string;
  raw_output: string;
  /** Why the output is malformed, or why the guard could not judge at all; empty otherwise. */
  error: string;
  content_truncated: boolean;
  policy: { slug: string; version: number | null; sha256: string; draft: boolean };
  model: { id: number; name: string };
  latency_ms: number;
}

const base = (slug: string) => `/api/v1/policies/${encodeURIComponent(slug)}`;

export const policyApi = {
  list: (client: ApiClient = api) => client.get<PolicySummary[]>('/api/v1/policies/'),
  get: (slug: string, client: ApiClient = api) => client.get<PolicySummary>(`${base(slug)}/`),
  schema: (client: ApiClient = api) => client.get<unknown>('/api/v1/policies/schema/'),
  versions: (slug: string, client: ApiClient = api) => client.get<PolicyVersion[]>(`${base(slug)}/versions/`),
  createVersion: (slug: string, source: string, message: string, client: ApiClient = api) =>
    client.post<PolicyVersion>(`${base(slug)}/versions/`, { source, message }),
  publish: (slug: string, number: number, body: { note?: string; force?: boolean }, client: ApiClient = api) =>
    client.post<PolicySummary>(`${base(slug)}/versions/${number}/publish/`, body),
  diff: (slug: string, from: number, to: number, client: ApiClient = api) =>
    client.get<{ diff: string }>(`${base(slug)}/diff/?from=${from}&to=${to}`),
  events: (slug: string, client: ApiClient = api) => client.get<PolicyEvent[]>(`${base(slug)}/events/`),
  testRuns: (slug: string, number: number, client: ApiClient = api) =>
    client.get<PolicyTestRun[]>(`${base(slug)}/versions/${number}/test/`),
  startTestRun: (slug: string, number: number, client: ApiClient = api) =>
    client.post<PolicyTestRun>(`${base(slug)}/versions/${number}/test/`),
  backtests: (slug: string, number: number, client: ApiClient = api) =>
    client.get<PolicyBacktest[]>(`${base(slug)}/versions/${number}/backtest/`),
  startBacktest: (slug: string, number: number, sample: number | null, client: ApiClient = api) =>
    client.post<PolicyBacktest>(`${base(slug)}/versions/${number}/backtest/`, sample ? { sample } : {}),
  playground: (body: PlaygroundRequest, client: ApiClient = api) =>
    client.post<PlaygroundResult>('/api/v1/playground/', body),
};
