import { STATS_WINDOWS, type StatsWindow } from '../../lib/review';

/** The period a panel's figures cover, from the review stats' choices. */
export function PeriodSelect({
  value,
  onChange,
  label,
  testId,
}: {
  value: StatsWindow;
  onChange: (period: StatsWindow) => void;
  /** The select's accessible name, where a page has more than one. */
  label?: string;
  testId?: string;
}) {
  return (
    <label className="inline-field">
      <span className="muted small">Period</span>
      <select
        value={value}
        onChange={(event) => onChange(event.target.value as StatsWindow)}
        aria-label={label}
        data-testid={testId}
      >
        {STATS_WINDOWS.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </label>
  );
}
