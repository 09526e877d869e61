import { describe, expect, it } from 'vitest';

import { applyToDraft, draftProblem, EMPTY_DRAFT, keyTargetOf, reviewShortcut, type KeyInput } from './reviewKeys';

const withItem = { hasItem: true, categoryCount: 3 };
const press = (key: string, extra: Partial<KeyInput> = {}): KeyInput => ({ key, target: 'other', ...extra });

describe('reviewShortcut', () => {
  it('maps the single keys to their actions while an item is on screen', () => {
    expect(reviewShortcut(press('s'), withItem)).toEqual({ type: 'verdict', verdict: 'safe' });
    expect(reviewShortcut(press('u'), withItem)).toEqual({ type: 'verdict', verdict: 'unsafe' });
    expect(reviewShortcut(press('U'), withItem)).toEqual({ type: 'verdict', verdict: 'unsafe' });
    expect(reviewShortcut(press('k'), withItem)).toEqual({ type: 'skip' });
    expect(reviewShortcut(press('Enter'), withItem)).toEqual({ type: 'submit' });
    expect(reviewShortcut(press('2'), withItem)).toEqual({ type: 'toggle', index: 1 });
  });

  it('ignores digits past the policy’s categories, and 0', () => {
    expect(reviewShortcut(press('4'), withItem)).toBeNull();
    expect(reviewShortcut(press('0'), withItem)).toBeNull();
  });

  it('does not fire while the reviewer types in the rationale', () => {
    for (const key of ['s', 'u', 'k', '1', 'n', 'Enter']) {
      expect(reviewShortcut(press(key, { target: 'text' }), withItem)).toBeNull();
    }
  });

  it('submits with Ctrl+Enter or ⌘+Enter from the rationale, and leaves it with Escape', () => {
    expect(reviewShortcut(press('Enter', { target: 'text', ctrlKey: true }), withItem)).toEqual({ type: 'submit' });
    expect(reviewShortcut(press('Enter', { target: 'text', metaKey: true }), withItem)).toEqual({ type: 'submit' });
    expect(reviewShortcut(press('Escape', { target: 'text' }), withItem)).toEqual({ type: 'leave-field' });
  });

  it('leaves Enter to a focused button or link', () => {
    expect(reviewShortcut(press('Enter', { target: 'button' }), withItem)).toBeNull();
    expect(reviewShortcut(press('u', { target: 'button' }), withItem)).toEqual({ type: 'verdict', verdict: 'unsafe' });
  });

  it('leaves browser shortcuts, repeats and input-method composition alone', () => {
    expect(reviewShortcut(press('s', { ctrlKey: true }), withItem)).toBeNull();
    expect(reviewShortcut(press('u', { altKey: true }), withItem)).toBeNull();
    expect(reviewShortcut(press('u', { repeat: true }), withItem)).toBeNull();
    expect(reviewShortcut(press('u', { isComposing: true }), withItem)).toBeNull();
  });

  it('only claims the next item when none is on screen', () => {
    const none = { hasItem: false, categoryCount: 0 };
    expect(reviewShortcut(press('n'), none)).toEqual({ type: 'next' });
    expect(reviewShortcut(press('u'), none)).toBeNull();
    expect(reviewShortcut(press('Enter'), none)).toBeNull();
    expect(reviewShortcut(press('n'), withItem)).toBeNull();
  });
});

describe('keyTargetOf', () => {
  it('tells text fields, buttons and the rest apart', () => {
    const textarea = document.createElement('textarea');
    const text = document.createElement('input');
    const checkbox = Object.assign(document.createElement('input'), { type: 'checkbox' });
    expect(keyTargetOf(textarea)).toBe('text');
    expect(keyTargetOf(text)).toBe('text');
    expect(keyTargetOf(document.createElement('select'))).toBe('text');
    expect(keyTargetOf(checkbox)).toBe('other');
    expect(keyTargetOf(document.createElement('button'))).toBe('button');
    expect(keyTargetOf(document.createElement('div'))).toBe('other');
    expect(keyTargetOf(null)).toBe('other');
  });
});

describe('the label draft', () => {
  const order = ['S1', 'S2', 'S3'];

  it('makes the label unsafe when a category is ticked, keeping the policy order', () => {
    let draft = applyToDraft(EMPTY_DRAFT, { type: 'toggle-code', code: 'S3' }, order);
    draft = applyToDraft(draft, { type: 'toggle-code', code: 'S1' }, order);
    expect(draft).toEqual({ verdict: 'unsafe', categories: ['S1', 'S3'], rationale: '' });
  });

  it('unticks a category without changing the verdict', () => {
    const draft = applyToDraft({ verdict: 'unsafe', categories: ['S1', 'S2'], rationale: 'x' }, { type: 'toggle-code', code: 'S1' }, order);
    expect(draft).toEqual({ verdict: 'unsafe', categories: ['S2'], rationale: 'x' });
  });

  it('clears the categories when the label becomes safe, and keeps the rationale', () => {
    const draft = applyToDraft({ verdict: 'unsafe', categories: ['S2'], rationale: 'why' }, { type: 'verdict', verdict: 'safe' }, order);
    expect(draft).toEqual({ verdict: 'safe', categories: [], rationale: 'why' });
  });

  it('says what is missing before the draft can be sent', () => {
    expect(draftProblem(EMPTY_DRAFT)).toMatch(/safe \(s\) or unsafe \(u\)/);
    expect(draftProblem({ verdict: 'unsafe', categories: [], rationale: '' })).toMatch(/at least one category/);
    expect(draftProblem({ verdict: 'unsafe', categories: ['S1'], rationale: '' })).toBeNull();
    expect(draftProblem({ verdict: 'safe', categories: [], rationale: '' })).toBeNull();
  });
});
