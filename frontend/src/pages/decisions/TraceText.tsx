import type { PolicyCategory } from '../../lib/decisions';
import { categoryAnchor, traceSegments } from '../../lib/trace';

/**
 * The guard's reasoning as text, with the policy's categories highlighted. With `linkCategories`,
 * each mention links to that category's text on the same page.
 */
export function TraceText({
  trace,
  categories,
  cited,
  linkCategories = false,
  testId,
}: {
  trace: string;
  categories: readonly PolicyCategory[];
  cited: readonly string[];
  linkCategories?: boolean;
  testId?: string;
}) {
  if (!trace.trim()) {
    return <p className="muted">The guard wrote no reasoning (reasoning mode “none”, or the output was empty).</p>;
  }
  return (
    <pre className="trace" data-testid={testId}>
      {traceSegments(trace, categories).map((segment, index) => {
        if (!segment.code) return <span key={index}>{segment.text}</span>;
        const className = cited.includes(segment.code) ? 'trace__mention trace__mention--cited' : 'trace__mention';
        return linkCategories ? (
          <a key={index} className={className} href={`#${categoryAnchor(segment.code)}`} data-code={segment.code}>
            {segment.text}
          </a>
        ) : (
          <mark key={index} className={className} data-code={segment.code}>
            {segment.text}
          </mark>
        );
      })}
    </pre>
  );
}
