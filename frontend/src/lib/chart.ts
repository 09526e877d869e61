/** The geometry of the line charts on the training pages (drawn as plain SVG). */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  label: string;
  points: Point[];
}

export interface ChartBox {
  width: number;
  height: number;
  margin: { top: number; right: number; bottom: number; left: number };
}

export interface Scale {
  domain: [number, number];
  range: [number, number];
  map(value: number): number;
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0;
  return {
    domain,
    range,
    // A flat domain maps to the middle of the range instead of dividing by zero.
    map: (value) => (span === 0 ? (r0 + r1) / 2 : r0 + ((value - d0) / span) * (r1 - r0)),
  };
}

/** Rounds a step to 1, 2 or 5 times a power of ten. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** About `count` round tick values covering [min, max]. */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const step = niceStep(max - min, count);
  const first = Math.ceil(min / step - 1e-9) * step;
  const out: number[] = [];
  for (let value = first; value <= max + step * 1e-9; value += step) out.push(Number(value.toFixed(10)));
  return out;
}

/** The points with finite values only: a step that did not report a metric leaves a gap, not a zero. */
export function finitePoints(points: readonly { x: number; y: number | null | undefined }[]): Point[] {
  return points.filter((p): p is Point => Number.isFinite(p.x) && typeof p.y === 'number' && Number.isFinite(p.y));
}

/**
 * The y domain: the data's range, widened to include `fixed` when given (e.g. [0, 1] for rates),
 * padded a little so a flat line is not drawn on the frame.
 */
export function yDomain(series: readonly Series[], fixed?: [number, number]): [number, number] {
  const values = series.flatMap((s) => s.points.map((p) => p.y));
  let min = fixed ? fixed[0] : Infinity;
  let max = fixed ? fixed[1] : -Infinity;
  for (const value of values) {
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) return [min - 0.5, max + 0.5];
  if (fixed) return [min, max];
  const pad = (max - min) * 0.05;
  return [min - pad, max + pad];
}

export function xDomain(series: readonly Series[]): [number, number] {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  if (xs.length === 0) return [0, 1];
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return min === max ? [min - 1, max + 1] : [min, max];
}

/** An SVG path through the points in x order ("M x y L x y ..."), or "" for no points. */
export function linePath(points: readonly Point[], x: Scale, y: Scale): string {
  return [...points]
    .sort((a, b) => a.x - b.x)
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${round(x.map(p.x))} ${round(y.map(p.y))}`)
    .join(' ');
}

/** A closed band between lower and upper values at each x (e.g. mean ± std). */
export function bandPath(
  points: readonly { x: number; low: number; high: number }[],
  x: Scale,
  y: Scale,
): string {
  if (points.length === 0) return '';
  const sorted = [...points].sort((a, b) => a.x - b.x);
  const upper = sorted.map((p, i) => `${i === 0 ? 'M' : 'L'}${round(x.map(p.x))} ${round(y.map(p.high))}`);
  const lower = [...sorted].reverse().map((p) => `L${round(x.map(p.x))} ${round(y.map(p.low))}`);
  return `${[...upper, ...lower].join(' ')} Z`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export function plotScales(box: ChartBox, xd: [number, number], yd: [number, number]): { x: Scale; y: Scale } {
  const { width, height, margin } = box;
  return {
    x: linearScale(xd, [margin.left, width - margin.right]),
    // SVG's y grows downwards.
    y: linearScale(yd, [height - margin.bottom, margin.top]),
  };
}

/** A tick label short enough for an axis. */
export function tickLabel(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 1 ? value.toFixed(1) : value.toFixed(2);
}
