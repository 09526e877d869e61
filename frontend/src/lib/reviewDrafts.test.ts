import { beforeEach, describe, expect, it } from 'vitest';

import { clearReviewDraft, clearReviewDrafts, loadReviewDraft, saveReviewDraft } from './reviewDrafts';

const CODES = ['S1', 'S2'];

beforeEach(() => sessionStorage.clear());

describe('review drafts', () => {
  it('keeps one label draft per item for its reviewer until it is cleared', () => {
    expect(saveReviewDraft(7, { verdict: 'unsafe', categories: ['S1'], rationale: 'threat' }, 'rita')).toBe(true);
    saveReviewDraft(8, { verdict: 'safe', categories: [], rationale: '' }, 'rita');
    expect(loadReviewDraft(7, 'rita', CODES)).toEqual({ verdict: 'unsafe', categories: ['S1'], rationale: 'threat' });
    expect(loadReviewDraft(8, 'rita', CODES)?.verdict).toBe('safe');
    clearReviewDraft(7);
    expect(loadReviewDraft(7, 'rita', CODES)).toBeNull();
    expect(loadReviewDraft(8, 'rita', CODES)).not.toBeNull();
  });

  it('gives a draft back only to the reviewer who wrote it', () => {
    saveReviewDraft(7, { verdict: 'safe', categories: [], rationale: 'fine' }, 'rita');
    expect(loadReviewDraft(7, 'sam', CODES)).toBeNull();
    expect(loadReviewDraft(7, null, CODES)).toBeNull();
  });

  it('drops an empty draft, and keeps only the item’s own categories', () => {
    saveReviewDraft(7, { verdict: 'unsafe', categories: ['S2', 'S9'], rationale: '' }, 'rita');
    expect(loadReviewDraft(7, 'rita', CODES)?.categories).toEqual(['S2']);
    saveReviewDraft(7, { verdict: null, categories: [], rationale: '' }, 'rita');
    expect(sessionStorage.getItem('arbiter.review-draft.7')).toBeNull();
  });

  it('ignores a stale or unreadable draft', () => {
    saveReviewDraft(7, { verdict: 'safe', categories: [], rationale: 'fine' }, 'rita');
    expect(loadReviewDraft(7, 'rita', CODES, sessionStorage, Date.now() + 2 * 86_400_000)).toBeNull();
    sessionStorage.setItem('arbiter.review-draft.7', '{not json');
    expect(loadReviewDraft(7, 'rita', CODES)).toBeNull();
  });

  it('drops every draft on logging out, and nothing else', () => {
    saveReviewDraft(7, { verdict: 'safe', categories: [], rationale: 'fine' }, 'rita');
    saveReviewDraft(8, { verdict: 'safe', categories: [], rationale: 'also fine' }, 'rita');
    sessionStorage.setItem('other', 'kept');
    clearReviewDrafts();
    expect(loadReviewDraft(7, 'rita', CODES)).toBeNull();
    expect(loadReviewDraft(8, 'rita', CODES)).toBeNull();
    expect(sessionStorage.getItem('other')).toBe('kept');
  });

  it('says so when the browser refuses to store the draft', () => {
    const full = {
      removeItem: () => undefined,
      setItem: () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
    } as unknown as Storage;
    expect(saveReviewDraft(7, { verdict: 'safe', categories: [], rationale: 'x' }, 'rita', full)).toBe(false);
    expect(saveReviewDraft(7, { verdict: 'safe', categories: [], rationale: 'x' }, 'rita', null)).toBe(false);
  });
});
