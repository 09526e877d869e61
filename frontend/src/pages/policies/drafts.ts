/**
 * Unsaved editor drafts, one per policy, kept in local storage so that a reload, a crash or an
 * expired session loses no edit. A draft is dropped once it is saved as a version.
 */

export interface Draft {
  source: string;
  /** The version the draft was started from (null: the policy had none). */
  baseVersion: number | null;
  updatedAt: string;
}

const PREFIX = 'arbiter.policy-draft.';

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

export function loadDraft(slug: string, store: Storage | null = storage()): Draft | null {
  const raw = store?.getItem(PREFIX + slug);
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<Draft>;
    if (typeof value.source !== 'string') return null;
    return {
      source: value.source,
      baseVersion: typeof value.baseVersion === 'number' ? value.baseVersion : null,
      updatedAt: typeof value.updatedAt === 'string' ? value.updatedAt : '',
    };
  } catch {
    return null;
  }
}

/** Returns false when the browser refused to store it (full or disabled storage). */
export function saveDraft(slug: string, draft: Omit<Draft, 'updatedAt'>, store: Storage | null = storage()): boolean {
  if (!store) return false;
  try {
    store.setItem(PREFIX + slug, JSON.stringify({ ...draft, updatedAt: new Date().toISOString() }));
    return true;
  } catch {
    return false;
  }
}

export function clearDraft(slug: string, store: Storage | null = storage()): void {
  store?.removeItem(PREFIX + slug);
}
