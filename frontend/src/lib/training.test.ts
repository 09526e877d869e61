import { describe, expect, it } from 'vitest';

import {
  activationKind,
  evalComparison,
  gateOf,
  hasEvaluation,
  isRunActive,
  metricEntries,
  runCharts,
  type ModelVersion,
} from './training';

const model = (id: number, overrides: Partial<ModelVersion> = {}): ModelVersion => ({
  id,
  name: `m${id}`,
  base: 'SmolLM2-135M-Instruct',
  path: `/models/m${id}`,
  template_version: 'rsafe-1',
  source: 'trained',
  status: 'candidate',
  metrics: {},
  parent: null,
  training_run: null,
  created_at: `2026-11-2${id}T00:00:00Z`,
  activated_at: null,
  ...overrides,
});

describe('runCharts', () => {
  const steps = [
    { step: 2, reward_mean: 0.5, reward_std: 0.1, accuracy: 0.6, format_rate: 1 },
    { step: 1, reward_mean: 0.3, reward_std: 0.2, accuracy: 0.4, format_rate: 0.8 },
    { step: 3, reward_mean: null, accuracy: 0.7 },
  ];

  it('gives the reward with its ±std band, and accuracy with format rate', () => {
    const charts = runCharts(steps);
    expect(charts.reward[0].points).toEqual([
      { x: 2, y: 0.5 },
      { x: 1, y: 0.3 },
    ]);
    expect(charts.rewardBand.map((p) => [p.x, Number(p.low.toFixed(2)), Number(p.high.toFixed(2))])).toEqual([
      [2, 0.4, 0.6],
      [1, 0.1, 0.5],
    ]);
    expect(charts.accuracy.map((s) => [s.label, s.points.length])).toEqual([
      ['Accuracy reward', 3],
      ['Format rate', 2],
    ]);
  });

  it('has empty series for a run that has not stepped yet', () => {
    const charts = runCharts([]);
    expect(charts.reward[0].points).toEqual([]);
    expect(charts.rewardBand).toEqual([]);
  });
});

describe('evalComparison', () => {
  it('compares before and after, then recall per category in code order', () => {
    const rows = evalComparison(
      { f1: 0.5, precision: 0.6, recall: 0.4, accuracy: 0.55, format_rate: 0.9, per_category_recall: { S10: 0.1, S2: 0.5 }, policy_tests: { passed: 8, total: 10 } },
      { f1: 0.6, precision: 0.6, recall: 0.35, accuracy: 0.6, format_rate: 1, per_category_recall: { S2: 0.7, S3: 0.2 }, policy_tests: { passed: 9, total: 10 } },
    );
    expect(rows.map((r) => r.label)).toEqual([
      'F1',
      'Precision',
      'Recall',
      'Accuracy',
      'Format rate',
      'Policy tests passed',
      'Recall S2',
      'Recall S3',
      'Recall S10',
    ]);
    const f1 = rows[0];
    expect(f1.delta).toBeCloseTo(0.1);
    expect(f1.better).toBe(true);
    expect(rows[1].better).toBeNull();
    expect(rows[2].better).toBe(false);
    expect(rows[5].before).toBeCloseTo(0.8);
    expect(rows.find((r) => r.label === 'Recall S3')).toMatchObject({ before: null, after: 0.2, delta: null });
  });

  it('shows the before column alone while the run has not evaluated after', () => {
    const rows = evalComparison({ f1: 0.5 }, null);
    expect(rows[0]).toMatchObject({ before: 0.5, after: null, delta: null, better: null });
    expect(rows.some((r) => r.metric === 'policy_tests')).toBe(false);
  });
});

describe('models', () => {
  it('calls activating a model that was live before a rollback', () => {
    const active = model(3, { status: 'active', activated_at: '2026-11-23T01:00:00Z' });
    expect(activationKind(model(4), active)).toBe('activate');
    expect(activationKind(model(1), active)).toBe('activate');
    expect(activationKind(model(5, { status: 'retired', activated_at: '2026-11-20T00:00:00Z' }), active)).toBe('rollback');
    expect(activationKind(model(1), undefined)).toBe('activate');
  });

  it('lists numeric metrics only', () => {
    expect(metricEntries({ f1: 0.7, eval_cases: 40, per_category_recall: { S1: 1 }, note: 'x' })).toEqual([
      { name: 'f1', value: 0.7 },
      { name: 'eval_cases', value: 40 },
    ]);
  });

  it('knows which runs are still going', () => {
    expect(['queued', 'running', 'succeeded', 'failed'].map((status) => isRunActive({ status }))).toEqual([true, true, false, false]);
  });
});

describe('a run that has not finished', () => {
  it('treats the empty evaluation and gate the API sends as not there yet', () => {
    expect(hasEvaluation({})).toBe(false);
    expect(hasEvaluation(null)).toBe(false);
    expect(hasEvaluation({ f1: 0.5 })).toBe(true);
    expect(gateOf({ gate: {} })).toBeNull();
    expect(gateOf({ gate: { promoted: false, reason: 'F1 did not improve' } })).toEqual({
      promoted: false,
      reason: 'F1 did not improve',
    });
  });
});
