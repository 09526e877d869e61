import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';

import { useSignedInUser } from '../../auth';
import { ErrorMessage, Loading } from '../../components/Feedback';
import type { PolicyCategory, ReviewLabel } from '../../lib/decisions';
import { formatCountdown, formatDateTime, formatScore } from '../../lib/format';
import {
  claimNext,
  isLostClaim,
  REASON_TEXT,
  releaseItem,
  skippedText,
  submitLabel,
  type ReviewItem,
} from '../../lib/review';
import { clearReviewDraft, loadReviewDraft, saveReviewDraft } from '../../lib/reviewDrafts';
import {
  applyToDraft,
  draftProblem,
  EMPTY_DRAFT,
  keyTargetOf,
  reviewShortcut,
  type LabelDraft,
  type ReviewAction,
} from '../../lib/reviewKeys';
import { Messages } from '../decisions/Messages';
import { TraceText } from '../decisions/TraceText';
import { VerdictBadge } from '../decisions/Verdict';
import { ReviewerStatsPanel } from './ReviewerStatsPanel';
import { ReviewStatsPanel } from './ReviewStatsPanel';

type Phase = 'idle' | 'claiming' | 'empty' | 'item' | 'submitting' | 'recorded';

/** Seconds left on the claim, ticking once a second while an item is on screen. */
function useClaimCountdown(expiresAt: string | null | undefined): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!expiresAt) return undefined;
    setNow(Date.now());
    const id = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(id);
  }, [expiresAt]);
  if (!expiresAt) return null;
  return new Date(expiresAt).getTime() - now;
}

export function ReviewPage() {
  const [phase, setPhase] = useState<Phase>('idle');
  const [item, setItem] = useState<ReviewItem | null>(null);
  const [skipped, setSkipped] = useState(0);
  const [draft, setDraft] = useState<LabelDraft>(EMPTY_DRAFT);
  /** The draft on screen came back from before (the session lapsed, or the page was left). */
  const [draftRestored, setDraftRestored] = useState(false);
  const user = useSignedInUser();
  const reviewer = user?.username ?? null;
  const [error, setError] = useState<unknown>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [recorded, setRecorded] = useState<{ label: ReviewLabel; decisionId: string } | null>(null);
  const [statsVersion, setStatsVersion] = useState(0);
  const rationaleRef = useRef<HTMLTextAreaElement>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const msLeft = useClaimCountdown(phase === 'item' || phase === 'submitting' ? item?.claim_expires_at : null);
  const expired = msLeft !== null && msLeft <= 0;

  useEffect(() => {
    document.title = 'Review queue · Arbiter';
  }, []);

  const categories = item?.policy_categories ?? [];
  const codes = categories.map((category) => category.code);

  const claim = useCallback(async () => {
    setPhase('claiming');
    setError(null);
    setProblem(null);
    try {
      const result = await claimNext();
      const next = result.item;
      // The same item back (a live claim, after the session lapsed): the label written for it too.
      const codesOf = (claimed: ReviewItem) => (claimed.policy_categories ?? []).map((category) => category.code);
      const kept = next ? loadReviewDraft(next.id, reviewer, codesOf(next)) : null;
      setItem(next);
      setSkipped(result.item ? 0 : result.skipped);
      setDraft(kept ?? EMPTY_DRAFT);
      setDraftRestored(kept !== null);
      setPhase(next ? 'item' : 'empty');
      if (next) setRecorded(null);
      setStatsVersion((n) => n + 1);
      headingRef.current?.focus();
    } catch (caught) {
      setError(caught);
      setPhase(item ? 'item' : 'idle');
    }
  }, [item, reviewer]);

  // Every change of the label is kept for its item, so a lapsed session loses none of it.
  const itemId = item?.id ?? null;
  useEffect(() => {
    if (itemId !== null) saveReviewDraft(itemId, draft, reviewer);
  }, [itemId, draft, reviewer]);

  const skip = useCallback(async () => {
    if (!item) return;
    setError(null);
    try {
      await releaseItem(item.id);
    } catch (caught) {
      // A lost claim needs no release: go on to the next item; anything else is shown.
      if (!isLostClaim(caught)) {
        setError(caught);
        return;
      }
    }
    clearReviewDraft(item.id);
    setItem(null);
    await claim();
  }, [item, claim]);

  const submit = useCallback(async () => {
    if (!item || phase !== 'item') return;
    const why = draftProblem(draft);
    setProblem(why);
    if (why) return;
    setPhase('submitting');
    setError(null);
    try {
      const label = await submitLabel(item.id, draft);
      clearReviewDraft(item.id);
      setRecorded({ label, decisionId: item.decision.id });
      setItem(null);
      setDraft(EMPTY_DRAFT);
      setDraftRestored(false);
      setPhase('recorded');
      setStatsVersion((n) => n + 1);
      headingRef.current?.focus();
    } catch (caught) {
      // The item and the draft stay on screen: nothing the reviewer wrote is lost.
      setError(caught);
      setPhase('item');
    }
  }, [item, phase, draft]);

  const perform = useCallback(
    (action: ReviewAction) => {
      switch (action.type) {
        case 'verdict':
          setProblem(null);
          setDraft((current) => applyToDraft(current, action, codes));
          break;
        case 'toggle':
          setProblem(null);
          setDraft((current) => applyToDraft(current, { type: 'toggle-code', code: codes[action.index] }, codes));
          break;
        case 'submit':
          void submit();
          break;
        case 'skip':
          void skip();
          break;
        case 'next':
          if (phase !== 'claiming') void claim();
          break;
        case 'leave-field':
          if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
          break;
      }
    },
    [codes, submit, skip, claim, phase],
  );

  useEffect(() => {
    function onKeyDown(event: KeyboardEvent) {
      const action = reviewShortcut(
        {
          key: event.key,
          ctrlKey: event.ctrlKey,
          metaKey: event.metaKey,
          altKey: event.altKey,
          repeat: event.repeat,
          isComposing: event.isComposing,
          target: keyTargetOf(event.target),
        },
        { hasItem: phase === 'item' && item !== null, categoryCount: codes.length },
      );
      if (!action) return;
      event.preventDefault();
      perform(action);
    }
    window.addEventListener('keydown', onKeyDown);
    return () => window.removeEventListener('keydown', onKeyDown);
  }, [perform, phase, item, codes.length]);

  const decision = item?.decision;
  const lostClaim = isLostClaim(error);

  return (
    <div className="stack">
      <div className="page__heading">
        <h1 ref={headingRef} tabIndex={-1}>
          Review queue
        </h1>
        <div className="page__actions">
          <button
            type="button"
            className="button button--primary"
            onClick={() => void claim()}
            disabled={phase === 'claiming' || phase === 'submitting' || phase === 'item'}
            data-testid="review-next"
          >
            {phase === 'claiming' ? 'Claiming…' : 'Next item'} <kbd>n</kbd>
          </button>
        </div>
      </div>

      <ReviewStatsPanel version={statsVersion} />

      {error !== null && (
        <div data-testid="review-error">
          <ErrorMessage
            title={lostClaim ? 'This item is no longer yours' : 'The review queue answered with an error'}
            error={error}
          />
          {lostClaim && (
            <p className="form__hint">
              Your claim expired or someone else claimed the item, so your label was not recorded. Your draft is
              still below; claim the next item to go on.{' '}
              <button type="button" className="button button--secondary button--small" onClick={() => void claim()}>
                Claim the next item
              </button>
            </p>
          )}
        </div>
      )}

      {phase === 'claiming' && !item && <Loading label="Claiming the next item…" />}
      {phase === 'idle' && (
        <section className="card">
          <p>
            Press <kbd>n</kbd> or <strong>Next item</strong> to claim the most urgent decision waiting for a person.
          </p>
          <ShortcutHelp />
        </section>
      )}
      {phase === 'empty' && (
        <section className="card" data-testid="review-empty">
          <p>The queue is empty: nothing is waiting for you. Check again later.</p>
          {skipped > 0 && (
            <p className="muted" data-testid="review-skipped-count">
              {skippedText(skipped)}
            </p>
          )}
        </section>
      )}
      {phase === 'recorded' && recorded && (
        <section className="card card--success" role="status" data-testid="review-recorded">
          <p className="review-recorded__label">
            <strong>Label recorded:</strong> {recorded.label.verdict}
            {recorded.label.categories.length > 0 && ` · ${recorded.label.categories.join(', ')}`}
            {recorded.label.rationale && ` · “${recorded.label.rationale}”`}
          </p>
          <p>
            <Link to={`/decisions/${recorded.decisionId}`}>Open this decision’s audit page</Link> · press <kbd>n</kbd>{' '}
            for the next item.
          </p>
        </section>
      )}

      {item && decision && (
        <div className="review" data-testid="review-item" data-item-id={item.id}>
          <div className="review__main stack">
            {item.escalated_at && (
              <EscalationBanner
                escalatedAt={item.escalated_at}
                labels={item.earlier_labels}
                categories={categories}
              />
            )}
            <section className="card" aria-labelledby="review-why">
              <div className="card__header">
                <h2 id="review-why">Why it is here</h2>
                <span className="tag">{item.reason}</span>
              </div>
              <p data-testid="review-reason">{REASON_TEXT[item.reason] ?? item.reason}</p>
              {decision.error && (
                <p className="mono" data-testid="review-guard-error">
                  {decision.error}
                </p>
              )}
              <dl className="details details--wide">
                <div className="details__row">
                  <dt>Guard verdict</dt>
                  <dd>
                    <VerdictBadge decision={decision} />
                    {decision.categories.length > 0 && <span>{decision.categories.join(', ')}</span>}
                  </dd>
                </div>
                <div className="details__row">
                  <dt>Score</dt>
                  <dd data-testid="review-score">{formatScore(decision.score)} (P(unsafe))</dd>
                </div>
                <div className="details__row">
                  <dt>Policy</dt>
                  <dd data-testid="review-policy">
                    {decision.policy.slug} v{decision.policy.version}
                  </dd>
                </div>
                <div className="details__row">
                  <dt>Model</dt>
                  <dd>{decision.model?.name ?? '—'}</dd>
                </div>
                {item.labels_needed > 1 && !item.escalated_at && (
                  <div className="details__row">
                    <dt>Second opinion</dt>
                    <dd>This item gets two independent labels.</dd>
                  </div>
                )}
              </dl>
            </section>
            <section className="card" aria-labelledby="review-content">
              <h2 id="review-content">Content</h2>
              <Messages messages={decision.messages} target={decision.target} testId="review-content" />
            </section>
            <section className="card" aria-labelledby="review-trace">
              <h2 id="review-trace">Reasoning trace</h2>
              <TraceText
                trace={decision.reasoning}
                categories={categories}
                cited={decision.categories}
                testId="review-trace"
              />
            </section>
          </div>

          <aside className="review__side">
            <form
              className="card form"
              aria-labelledby="review-label-heading"
              onSubmit={(event) => {
                event.preventDefault();
                void submit();
              }}
            >
              <div className="card__header">
                <h2 id="review-label-heading">Your label</h2>
                <span
                  className={expired ? 'badge badge--failed' : 'badge badge--neutral'}
                  role="timer"
                  aria-live="off"
                  data-testid="claim-timer"
                  title="Time left on your claim of this item"
                >
                  {msLeft === null ? 'No expiry' : expired ? 'Claim expired' : `Claim ${formatCountdown(msLeft)}`}
                </span>
              </div>
              {draftRestored && (
                <p className="form__hint" role="status" data-testid="review-draft-restored">
                  The label you were writing for this item is back, as you left it.
                </p>
              )}
              {expired && (
                <p className="form__hint form__hint--warning">
                  Your claim expired: another reviewer may take this item. Submitting may be refused.
                </p>
              )}

              <fieldset className="choice">
                <legend>Verdict</legend>
                {(['safe', 'unsafe'] as const).map((verdict) => (
                  <label key={verdict} className="choice__option">
                    <input
                      type="radio"
                      name="verdict"
                      value={verdict}
                      checked={draft.verdict === verdict}
                      onChange={() => perform({ type: 'verdict', verdict })}
                      data-testid={`label-${verdict}`}
                    />
                    {verdict === 'safe' ? 'Safe' : 'Unsafe'} <kbd>{verdict[0]}</kbd>
                  </label>
                ))}
              </fieldset>

              <fieldset className="choice">
                <legend>Categories (policy v{decision.policy.version})</legend>
                {categories.map((category, index) => (
                  <label key={category.code} className="choice__option" title={category.description}>
                    <input
                      type="checkbox"
                      value={category.code}
                      checked={draft.categories.includes(category.code)}
                      onChange={() => perform({ type: 'toggle', index })}
                      data-testid={`label-category-${category.code}`}
                    />
                    {index < 9 && <kbd>{index + 1}</kbd>}
                    <span>
                      <strong>{category.code}</strong> {category.name}
                    </span>
                  </label>
                ))}
              </fieldset>

              <div className="form__field">
                <label htmlFor="review-rationale">Rationale</label>
                <textarea
                  id="review-rationale"
                  ref={rationaleRef}
                  rows={4}
                  maxLength={5000}
                  value={draft.rationale}
                  onChange={(event) => {
                    const rationale = event.target.value;
                    setDraft((current) => ({ ...current, rationale }));
                  }}
                  aria-describedby="review-rationale-hint"
                  data-testid="label-rationale"
                />
                <p id="review-rationale-hint" className="form__hint">
                  Optional. <kbd>Ctrl</kbd>+<kbd>Enter</kbd> submits from here; <kbd>Esc</kbd> leaves the field.
                </p>
              </div>

              {problem && (
                <p className="form__error" role="alert" data-testid="label-problem">
                  {problem}
                </p>
              )}

              <div className="form__buttons">
                <button
                  type="submit"
                  className="button button--primary"
                  disabled={phase === 'submitting'}
                  data-testid="label-submit"
                >
                  {phase === 'submitting' ? 'Submitting…' : 'Submit'} <kbd>Enter</kbd>
                </button>
                <button type="button" className="button button--secondary" onClick={() => void skip()}>
                  Skip <kbd>k</kbd>
                </button>
              </div>
            </form>
            <ShortcutHelp />
          </aside>
        </div>
      )}

      {/* Below the item, so it does not push the item down; loaded on its own, not after every label. */}
      <ReviewerStatsPanel isSuperuser={user?.is_superuser === true} />
    </div>
  );
}

/** An escalated item: its independent labels disagreed, and this reviewer's label settles it. Both
 * earlier labels are shown so the adjudicator sees each side. */
function EscalationBanner({
  escalatedAt,
  labels,
  categories,
}: {
  escalatedAt: string;
  labels: ReviewLabel[];
  categories: PolicyCategory[];
}) {
  const names = new Map(categories.map((category) => [category.code, category.name]));
  return (
    <section className="alert alert--info" aria-labelledby="review-escalated-heading" data-testid="review-escalated">
      <h2 id="review-escalated-heading" className="alert__title">
        Reviewers disagreed. Your label settles this item.
      </h2>
      <p className="muted small">Escalated {formatDateTime(escalatedAt)}. The earlier labels:</p>
      {labels.length === 0 ? (
        <p className="muted">The earlier labels are not available.</p>
      ) : (
        <ol className="history">
          {labels.map((label) => (
            <li key={label.id} className="history__item" data-testid="earlier-label">
              <p>
                <strong>{label.reviewer}</strong>:{' '}
                <VerdictBadge decision={{ verdict: label.verdict, malformed: false, status: 'completed' }} />
              </p>
              {label.categories.length > 0 && (
                <p data-testid="earlier-label-categories">
                  {label.categories.map((code) => (names.has(code) ? `${code} ${names.get(code)}` : code)).join(', ')}
                </p>
              )}
              {label.rationale ? (
                <p className="history__rationale">{label.rationale}</p>
              ) : (
                <p className="muted small">No rationale given.</p>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function ShortcutHelp() {
  return (
    <details className="shortcuts">
      <summary>Keyboard shortcuts</summary>
      <dl className="details">
        <div className="details__row">
          <dt>
            <kbd>n</kbd>
          </dt>
          <dd>Claim the next item</dd>
        </div>
        <div className="details__row">
          <dt>
            <kbd>s</kbd> / <kbd>u</kbd>
          </dt>
          <dd>Safe / unsafe</dd>
        </div>
        <div className="details__row">
          <dt>
            <kbd>1</kbd>–<kbd>9</kbd>
          </dt>
          <dd>Toggle a category (makes the label unsafe)</dd>
        </div>
        <div className="details__row">
          <dt>
            <kbd>Enter</kbd>
          </dt>
          <dd>Submit (Ctrl+Enter in the rationale)</dd>
        </div>
        <div className="details__row">
          <dt>
            <kbd>k</kbd>
          </dt>
          <dd>Skip: give the item back, claim the next</dd>
        </div>
      </dl>
    </details>
  );
}
