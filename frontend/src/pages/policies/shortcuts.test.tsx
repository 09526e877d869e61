import { act } from 'react';
import { createRoot } from 'react-dom/client';
import { describe, expect, it, vi } from 'vitest';

import { shortcutFor, useShortcuts, type KeyLike } from './shortcuts';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean | undefined;
}

const key = (k: string, mods: Partial<KeyLike> = {}): KeyLike => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe('shortcutFor', () => {
  it('saves on Ctrl+S and Cmd+S', () => {
    expect(shortcutFor(key('s', { ctrlKey: true }))).toBe('save');
    expect(shortcutFor(key('s', { metaKey: true }))).toBe('save');
  });

  it('runs on Ctrl+Enter and Cmd+Enter', () => {
    expect(shortcutFor(key('Enter', { ctrlKey: true }))).toBe('run');
    expect(shortcutFor(key('Enter', { metaKey: true }))).toBe('run');
  });

  it('ignores plain keys and other modifier combinations', () => {
    expect(shortcutFor(key('s'))).toBeNull();
    expect(shortcutFor(key('Enter'))).toBeNull();
    expect(shortcutFor(key('s', { ctrlKey: true, shiftKey: true }))).toBeNull();
    expect(shortcutFor(key('s', { ctrlKey: true, altKey: true }))).toBeNull();
    expect(shortcutFor(key('x', { ctrlKey: true }))).toBeNull();
  });
});

describe('useShortcuts', () => {
  it('calls the handler and keeps the browser from acting on the key', async () => {
    globalThis.IS_REACT_ACT_ENVIRONMENT = true;
    const save = vi.fn();
    function Probe() {
      useShortcuts({ save });
      return null;
    }
    const container = document.createElement('div');
    const root = createRoot(container);
    await act(async () => root.render(<Probe />));

    const event = new KeyboardEvent('keydown', { key: 's', ctrlKey: true, cancelable: true, bubbles: true });
    document.body.dispatchEvent(event);
    expect(save).toHaveBeenCalledTimes(1);
    expect(event.defaultPrevented).toBe(true);

    const other = new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, cancelable: true, bubbles: true });
    document.body.dispatchEvent(other);
    expect(other.defaultPrevented).toBe(false);

    act(() => root.unmount());
    document.body.dispatchEvent(new KeyboardEvent('keydown', { key: 's', ctrlKey: true, bubbles: true }));
    expect(save).toHaveBeenCalledTimes(1);
  });
});
