import { bandPath, linePath, plotScales, tickLabel, ticks, xDomain, yDomain, type ChartBox, type Series } from '../../lib/chart';

const BOX: ChartBox = { width: 560, height: 240, margin: { top: 16, right: 16, bottom: 36, left: 48 } };
const COLORS = ['#1f5fbf', '#c2410c', '#15803d', '#7c3aed'];

/** A line chart of per-step values, as plain SVG with a text summary for screen readers. */
export function LineChart({
  title,
  series,
  band,
  fixedY,
  xLabel = 'Step',
  testId,
}: {
  title: string;
  series: Series[];
  band?: { x: number; low: number; high: number }[];
  fixedY?: [number, number];
  xLabel?: string;
  testId?: string;
}) {
  const drawn = series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) {
    return (
      <figure className="chart" data-testid={testId}>
        <figcaption className="chart__title">{title}</figcaption>
        <p className="muted">No steps reported yet.</p>
      </figure>
    );
  }
  const bandSeries: Series[] = band?.length
    ? [{ label: 'band', points: band.flatMap((p) => [{ x: p.x, y: p.low }, { x: p.x, y: p.high }]) }]
    : [];
  const xd = xDomain(drawn);
  const yd = yDomain([...drawn, ...bandSeries], fixedY);
  const { x, y } = plotScales(BOX, xd, yd);
  const { width, height, margin } = BOX;
  const xTicks = ticks(xd[0], xd[1], 6).filter((t) => Number.isInteger(t));
  const yTicks = ticks(yd[0], yd[1], 5);
  const summary = drawn
    .map((s) => {
      const last = s.points[s.points.length - 1];
      return `${s.label}: ${s.points.length} steps, last ${tickLabel(last.y)} at step ${last.x}`;
    })
    .join('; ');

  return (
    <figure className="chart" data-testid={testId}>
      <figcaption className="chart__title">{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} className="chart__svg" role="img" aria-label={`${title}. ${summary}`}>
        {yTicks.map((t) => (
          <g key={`y${t}`}>
            <line className="chart__grid" x1={margin.left} x2={width - margin.right} y1={y.map(t)} y2={y.map(t)} />
            <text className="chart__tick" x={margin.left - 6} y={y.map(t)} textAnchor="end" dominantBaseline="middle">
              {tickLabel(t)}
            </text>
          </g>
        ))}
        {xTicks.map((t) => (
          <text key={`x${t}`} className="chart__tick" x={x.map(t)} y={height - margin.bottom + 16} textAnchor="middle">
            {tickLabel(t)}
          </text>
        ))}
        <text className="chart__axis-label" x={(margin.left + width - margin.right) / 2} y={height - 4} textAnchor="middle">
          {xLabel}
        </text>
        <line className="chart__axis" x1={margin.left} x2={width - margin.right} y1={height - margin.bottom} y2={height - margin.bottom} />
        {band && band.length > 0 && <path className="chart__band" d={bandPath(band, x, y)} fill={COLORS[0]} />}
        {drawn.map((s, i) => (
          <g key={s.label}>
            <path className="chart__line" d={linePath(s.points, x, y)} stroke={COLORS[i % COLORS.length]} />
            {s.points.length <= 40 &&
              s.points.map((p) => (
                <circle key={p.x} cx={x.map(p.x)} cy={y.map(p.y)} r={2.5} fill={COLORS[i % COLORS.length]} />
              ))}
          </g>
        ))}
      </svg>
      {drawn.length > 1 || band ? (
        <ul className="chart__legend">
          {drawn.map((s, i) => (
            <li key={s.label}>
              <span className="chart__swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
              {s.label}
            </li>
          ))}
          {band && band.length > 0 && (
            <li>
              <span className="chart__swatch chart__swatch--band" style={{ background: COLORS[0] }} aria-hidden="true" />±
              one standard deviation
            </li>
          )}
        </ul>
      ) : null}
    </figure>
  );
}
