import { ApiError } from '../api';

export function Loading({ label = 'Loading…', fullPage = false }: { label?: string; fullPage?: boolean }) {
  const content = (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
  return fullPage ? <main className="page page--centered">{content}</main> : content;
}

/** A readable sentence for anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  if (typeof error === 'string' && error) return error;
  return 'Something went wrong.';
}

/** Shows an error (never swallowed): its message, the server's field errors, and an optional retry. */
export function ErrorMessage({
  error,
  title,
  onRetry,
}: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
}) {
  const details = error instanceof ApiError ? error.errors : [];
  return (
    <div className="alert alert--error" role="alert">
      {title && <p className="alert__title">{title}</p>}
      <p>{errorMessage(error)}</p>
      {details.length > 0 && (
        <ul className="alert__list">
          {details.map((detail, index) => {
            const where = detail.line !== undefined ? `line ${detail.line}` : detail.path || detail.field;
            return (
              <li key={index}>
                {where ? <strong>{where}: </strong> : null}
                {detail.message}
              </li>
            );
          })}
        </ul>
      )}
      {onRetry && (
        <button type="button" className="button button--secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
