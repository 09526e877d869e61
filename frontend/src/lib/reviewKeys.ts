/**
 * The review queue's keyboard: `s` safe, `u` unsafe, digits toggle categories, Enter submits,
 * `k` skips, `n` claims the next item. Pure functions, so the rules are tested without a browser.
 *
 * While the reviewer types in a text field, letters and digits are text: only Ctrl/⌘+Enter (submit)
 * and Escape (leave the field, so the single keys work again) act.
 */

export type Verdict = 'safe' | 'unsafe';

export type ReviewAction =
  | { type: 'verdict'; verdict: Verdict }
  | { type: 'toggle'; index: number }
  | { type: 'submit' }
  | { type: 'skip' }
  | { type: 'next' }
  | { type: 'leave-field' };

/** Where the key was pressed: in a text field, on a button or link (Enter is theirs), or elsewhere. */
export type KeyTarget = 'text' | 'button' | 'other';

export interface KeyInput {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  repeat?: boolean;
  /** The key is mid-composition in an input method (e.g. typing Japanese). */
  isComposing?: boolean;
  target: KeyTarget;
}

export interface ShortcutContext {
  /** Whether an item is claimed and on screen. */
  hasItem: boolean;
  categoryCount: number;
}

export function reviewShortcut(input: KeyInput, context: ShortcutContext): ReviewAction | null {
  if (input.isComposing || input.altKey) return null;
  const command = Boolean(input.ctrlKey || input.metaKey);

  if (input.target === 'text') {
    if (input.key === 'Enter' && command && context.hasItem) return { type: 'submit' };
    if (input.key === 'Escape') return { type: 'leave-field' };
    return null;
  }
  if (command || input.repeat) return null;

  if (!context.hasItem) return input.key === 'n' || input.key === 'N' ? { type: 'next' } : null;

  switch (input.key) {
    case 's':
    case 'S':
      return { type: 'verdict', verdict: 'safe' };
    case 'u':
    case 'U':
      return { type: 'verdict', verdict: 'unsafe' };
    case 'k':
    case 'K':
      return { type: 'skip' };
    case 'Enter':
      // On a button or link Enter is that control's own activation.
      return input.target === 'button' ? null : { type: 'submit' };
    default:
      break;
  }
  if (/^[1-9]$/.test(input.key)) {
    const index = Number(input.key) - 1;
    return index < context.categoryCount ? { type: 'toggle', index } : null;
  }
  return null;
}

/** Classifies a key event's target element. */
export function keyTargetOf(element: EventTarget | null): KeyTarget {
  if (!(element instanceof HTMLElement)) return 'other';
  if (element.isContentEditable) return 'text';
  if (element instanceof HTMLTextAreaElement || element instanceof HTMLSelectElement) return 'text';
  if (element instanceof HTMLInputElement) {
    return ['checkbox', 'radio', 'button', 'submit', 'reset'].includes(element.type) ? 'other' : 'text';
  }
  if (element instanceof HTMLButtonElement || element instanceof HTMLAnchorElement) return 'button';
  return 'other';
}

// --- The label being written -------------------------------------------------------------------

export interface LabelDraft {
  verdict: Verdict | null;
  categories: string[];
  rationale: string;
}

export const EMPTY_DRAFT: LabelDraft = { verdict: null, categories: [], rationale: '' };

/**
 * A verdict or category change. A safe label takes no categories, so choosing safe clears them and
 * ticking a category makes the label unsafe.
 */
export function applyToDraft(
  draft: LabelDraft,
  action: { type: 'verdict'; verdict: Verdict } | { type: 'toggle-code'; code: string },
  categoryOrder: readonly string[],
): LabelDraft {
  if (action.type === 'verdict') {
    return { ...draft, verdict: action.verdict, categories: action.verdict === 'safe' ? [] : draft.categories };
  }
  const has = draft.categories.includes(action.code);
  const chosen = has ? draft.categories.filter((code) => code !== action.code) : [...draft.categories, action.code];
  const categories = categoryOrder.filter((code) => chosen.includes(code));
  return { ...draft, categories, verdict: has ? draft.verdict : 'unsafe' };
}

/** Why the draft cannot be submitted yet, or null. Mirrors the API's rules, to say so before sending. */
export function draftProblem(draft: LabelDraft): string | null {
  if (draft.verdict === null) return 'Choose safe (s) or unsafe (u) first.';
  if (draft.verdict === 'unsafe' && draft.categories.length === 0) {
    return 'An unsafe label needs at least one category (press its number).';
  }
  return null;
}
