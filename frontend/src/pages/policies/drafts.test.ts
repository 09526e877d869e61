import { beforeEach, describe, expect, it } from 'vitest';

import { clearDraft, loadDraft, saveDraft } from './drafts';

beforeEach(() => localStorage.clear());

describe('policy drafts', () => {
  it('keeps one draft per policy until it is cleared', () => {
    expect(saveDraft('core-safety', { source: 'id: core-safety\n', baseVersion: 3 })).toBe(true);
    saveDraft('other', { source: 'id: other\n', baseVersion: null });
    expect(loadDraft('core-safety')).toMatchObject({ source: 'id: core-safety\n', baseVersion: 3 });
    expect(loadDraft('other')?.baseVersion).toBeNull();
    clearDraft('core-safety');
    expect(loadDraft('core-safety')).toBeNull();
    expect(loadDraft('other')).not.toBeNull();
  });

  it('ignores a stored value that is not a draft', () => {
    localStorage.setItem('arbiter.policy-draft.core-safety', '{not json');
    expect(loadDraft('core-safety')).toBeNull();
    localStorage.setItem('arbiter.policy-draft.core-safety', '{"source": 5}');
    expect(loadDraft('core-safety')).toBeNull();
  });

  it('says so when the browser refuses to store the draft', () => {
    const full = {
      getItem: () => null,
      setItem: () => {
        throw new DOMException('full', 'QuotaExceededError');
      },
      removeItem: () => undefined,
    } as unknown as Storage;
    expect(saveDraft('core-safety', { source: 'x', baseVersion: 1 }, full)).toBe(false);
  });
});
