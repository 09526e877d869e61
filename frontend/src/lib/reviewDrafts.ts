/**
 * A reviewer's unsent label, one per review item, kept in session storage (this tab only) so that a
 * lapsed session loses nothing: the 401 sends them to the login page, which unmounts the review page,
 * and when they sign in again and claim the same item (their claim is still live) the label they
 * were writing comes back. A draft is dropped once the label is recorded or the item skipped, on
 * logging out, and after a day; it comes back only to the reviewer who wrote it.
 */

import type { LabelDraft } from './reviewKeys';

const PREFIX = 'arbiter.review-draft.';
/** Older drafts are stale: the claim they were written under is long gone. */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

interface StoredDraft extends LabelDraft {
  reviewer: string | null;
  updatedAt: string;
}

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

function isEmpty(draft: LabelDraft): boolean {
  return draft.verdict === null && draft.categories.length === 0 && draft.rationale === '';
}

/**
 * The draft kept for this item and reviewer, its categories limited to the item's policy's
 * (`codes`, in their order); null when there is none, or it is someone else's, stale or unreadable.
 */
export function loadReviewDraft(
  itemId: number,
  reviewer: string | null,
  codes: readonly string[],
  store: Storage | null = storage(),
  now: number = Date.now(),
): LabelDraft | null {
  let raw: string | null | undefined;
  try {
    raw = store?.getItem(PREFIX + itemId);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<StoredDraft>;
    if ((value.reviewer ?? null) !== reviewer) return null;
    const updated = Date.parse(value.updatedAt ?? '');
    if (Number.isNaN(updated) || now - updated > MAX_AGE_MS) return null;
    const verdict = value.verdict === 'safe' || value.verdict === 'unsafe' ? value.verdict : null;
    const stored = Array.isArray(value.categories) ? value.categories : [];
    const draft: LabelDraft = {
      verdict,
      categories: verdict === 'safe' ? [] : codes.filter((code) => stored.includes(code)),
      rationale: typeof value.rationale === 'string' ? value.rationale : '',
    };
    return isEmpty(draft) ? null : draft;
  } catch {
    return null;
  }
}

/** Keeps the draft for this item (an empty one drops it); false when the browser refused to store it. */
export function saveReviewDraft(
  itemId: number,
  draft: LabelDraft,
  reviewer: string | null,
  store: Storage | null = storage(),
): boolean {
  if (!store) return false;
  try {
    if (isEmpty(draft)) {
      store.removeItem(PREFIX + itemId);
      return true;
    }
    const stored: StoredDraft = { ...draft, reviewer, updatedAt: new Date().toISOString() };
    store.setItem(PREFIX + itemId, JSON.stringify(stored));
    return true;
  } catch {
    return false;
  }
}

export function clearReviewDraft(itemId: number, store: Storage | null = storage()): void {
  try {
    store?.removeItem(PREFIX + itemId);
  } catch {
    // storage disabled: nothing was kept
  }
}

/** Drops every kept review draft (on logging out). */
export function clearReviewDrafts(store: Storage | null = storage()): void {
  if (!store) return;
  try {
    const keys: string[] = [];
    for (let index = 0; index < store.length; index++) {
      const key = store.key(index);
      if (key?.startsWith(PREFIX)) keys.push(key);
    }
    keys.forEach((key) => store.removeItem(key));
  } catch {
    // storage disabled: nothing was kept
  }
}
