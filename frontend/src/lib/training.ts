/** Model versions and training runs: the shapes the API answers with, fetchers and derived views. */

import { api, type ApiClient } from '../api';
import type { Page } from './decisions';
import { finitePoints, type Series } from './chart';

export type ModelStatus = 'candidate' | 'active' | 'retired';

export interface ModelVersion {
  id: number;
  name: string;
  base: string;
  path: string;
  template_version: string;
  source: string;
  status: ModelStatus | string;
  metrics: Record<string, unknown>;
  parent: number | null;
  training_run: number | null;
  created_at: string;
  activated_at: string | null;
  activated_by?: string | null;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface TrainingStep {
  step: number;
  reward_mean?: number | null;
  reward_std?: number | null;
  frac_reward_zero_std?: number | null;
  format_rate?: number | null;
  accuracy?: number | null;
  loss?: number | null;
  kl?: number | null;
}

export interface Evaluation {
  f1?: number | null;
  precision?: number | null;
  recall?: number | null;
  accuracy?: number | null;
  format_rate?: number | null;
  per_category_recall?: Record<string, number | null>;
  policy_tests?: { passed: number; total: number } | null;
}

export interface TrainingRun {
  id: number;
  status: RunStatus | string;
  trigger: string;
  requested_by: string | null;
  config: Record<string, unknown>;
  dataset: { train?: number; eval?: number; new_cases?: number; replay_cases?: number } | null;
  sft_ran: boolean;
  steps: TrainingStep[];
  eval_before: Evaluation | null;
  eval_after: Evaluation | null;
  gate: { promoted?: boolean; reason?: string } | null;
  candidate: number | null;
  error: string;
  logs: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
}

export function fetchModels(signal?: AbortSignal, client: ApiClient = api): Promise<Page<ModelVersion>> {
  return client.get<Page<ModelVersion>>('/api/v1/models/?limit=100', { signal });
}

export function activateModel(id: number, client: ApiClient = api): Promise<ModelVersion> {
  return client.post<ModelVersion>(`/api/v1/models/${id}/activate/`);
}

export function fetchTrainingRuns(signal?: AbortSignal, client: ApiClient = api): Promise<Page<TrainingRun>> {
  return client.get<Page<TrainingRun>>('/api/v1/training-runs/?limit=50', { signal });
}

export function fetchTrainingRun(id: string, signal?: AbortSignal, client: ApiClient = api): Promise<TrainingRun> {
  return client.get<TrainingRun>(`/api/v1/training-runs/${encodeURIComponent(id)}/`, { signal });
}

export function startTrainingRun(steps: number | null, client: ApiClient = api): Promise<TrainingRun> {
  return client.post<TrainingRun>('/api/v1/training-runs/', steps === null ? {} : { steps });
}

/** The API sends `{}` for an evaluation or gate that has not happened yet. */
export function hasEvaluation(evaluation: Evaluation | null | undefined): evaluation is Evaluation {
  return !!evaluation && Object.keys(evaluation).length > 0;
}

export function gateOf(run: Pick<TrainingRun, 'gate'>): { promoted: boolean; reason: string } | null {
  const gate = run.gate;
  if (!gate || typeof gate.promoted !== 'boolean') return null;
  return { promoted: gate.promoted, reason: gate.reason ?? '' };
}

export function isRunActive(run: Pick<TrainingRun, 'status'>): boolean {
  return run.status === 'queued' || run.status === 'running';
}

/** What activating `target` means, for the confirmation: a first activation, or a rollback to a
 * model that was live before. */
export function activationKind(target: ModelVersion, active: ModelVersion | undefined): 'activate' | 'rollback' {
  return active && target.activated_at !== null ? 'rollback' : 'activate';
}

/** The numeric metrics of a model, for its table row; nested objects are left to the run page. */
export function metricEntries(metrics: Record<string, unknown>): { name: string; value: number }[] {
  return Object.entries(metrics)
    .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1]))
    .map(([name, value]) => ({ name, value }));
}

/** The chart series of a run, one chart per entry. */
export function runCharts(steps: readonly TrainingStep[]): {
  reward: Series[];
  rewardBand: { x: number; low: number; high: number }[];
  accuracy: Series[];
} {
  const reward = finitePoints(steps.map((s) => ({ x: s.step, y: s.reward_mean })));
  const rewardBand = steps
    .filter((s) => typeof s.reward_mean === 'number' && typeof s.reward_std === 'number')
    .map((s) => ({ x: s.step, low: s.reward_mean! - s.reward_std!, high: s.reward_mean! + s.reward_std! }));
  return {
    reward: [{ label: 'Mean reward', points: reward }],
    rewardBand,
    accuracy: [
      { label: 'Accuracy reward', points: finitePoints(steps.map((s) => ({ x: s.step, y: s.accuracy }))) },
      { label: 'Format rate', points: finitePoints(steps.map((s) => ({ x: s.step, y: s.format_rate }))) },
    ],
  };
}

export interface EvalRow {
  metric: string;
  label: string;
  before: number | null;
  after: number | null;
  delta: number | null;
  /** Whether the change is an improvement (every metric here is better when higher). */
  better: boolean | null;
}

const EVAL_METRICS: [keyof Evaluation, string][] = [
  ['f1', 'F1'],
  ['precision', 'Precision'],
  ['recall', 'Recall'],
  ['accuracy', 'Accuracy'],
  ['format_rate', 'Format rate'],
];

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function row(metric: string, label: string, before: number | null, after: number | null): EvalRow {
  const delta = before !== null && after !== null ? after - before : null;
  return { metric, label, before, after, delta, better: delta === null || delta === 0 ? null : delta > 0 };
}

/** The before/after evaluation as table rows: the headline metrics, then recall per category. */
export function evalComparison(before: Evaluation | null, after: Evaluation | null): EvalRow[] {
  const rows = EVAL_METRICS.map(([key, label]) => row(key, label, num(before?.[key]), num(after?.[key])));
  const tests = (e: Evaluation | null) =>
    e?.policy_tests && e.policy_tests.total > 0 ? e.policy_tests.passed / e.policy_tests.total : null;
  if (before?.policy_tests || after?.policy_tests) rows.push(row('policy_tests', 'Policy tests passed', tests(before), tests(after)));
  const codes = [
    ...new Set([...Object.keys(before?.per_category_recall ?? {}), ...Object.keys(after?.per_category_recall ?? {})]),
  ].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  for (const code of codes) {
    rows.push(
      row(`recall:${code}`, `Recall ${code}`, num(before?.per_category_recall?.[code]), num(after?.per_category_recall?.[code])),
    );
  }
  return rows;
}
