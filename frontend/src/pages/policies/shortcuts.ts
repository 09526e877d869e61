/** Keyboard shortcuts of the policy editor and the playground. */
import { useEffect, useRef } from 'react';

export type ShortcutAction = 'save' | 'run';

export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

/** Ctrl+S (Cmd+S on a Mac) saves; Ctrl+Enter (Cmd+Enter) runs. Anything else is no shortcut. */
export function shortcutFor(event: KeyLike): ShortcutAction | null {
  const mod = event.ctrlKey || event.metaKey;
  if (!mod || event.altKey || event.shiftKey) return null;
  if (event.key === 's' || event.key === 'S') return 'save';
  if (event.key === 'Enter') return 'run';
  return null;
}

export const SHORTCUT_LABELS: Record<ShortcutAction, string> = {
  save: 'Ctrl+S',
  run: 'Ctrl+Enter',
};

/** Calls the handler of each shortcut pressed anywhere on the page, and keeps the browser's own action from running. */
export function useShortcuts(handlers: Partial<Record<ShortcutAction, () => void>>): void {
  const latest = useRef(handlers);
  useEffect(() => {
    latest.current = handlers;
  });
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      const action = shortcutFor(event);
      const handler = action ? latest.current[action] : undefined;
      if (!handler) return;
      event.preventDefault();
      handler();
    };
    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, []);
}
