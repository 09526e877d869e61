import { beforeAll, describe, expect, it } from 'vitest';

// The test run strips CSS imports (even `?raw`), so the file is read from disk; the tests run in
// Node, whose types this browser project does not load.
let stylesheet = '';
beforeAll(async () => {
  const fsModule = 'node:fs';
  const fs = (await import(/* @vite-ignore */ fsModule)) as { readFileSync(path: string, encoding: 'utf8'): string };
  // This file's own path, as a string: Vite rewrites `new URL(…, import.meta.url)` into an asset address.
  const path = decodeURIComponent(import.meta.url.replace(/^file:\/\//, '').replace(/[^/]+$/, 'styles.css'));
  stylesheet = fs.readFileSync(path, 'utf8');
});

/** The declarations of one rule of styles.css, by its exact selector. */
function rule(selector: string): string {
  const css = stylesheet.replace(/\/\*[\s\S]*?\*\//g, '');
  const escaped = selector.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = new RegExp(`(?:^|\\})\\s*${escaped}\\s*\\{([^}]*)\\}`, 'm').exec(css);
  if (!found) throw new Error(`styles.css has no rule ${selector}`);
  return found[1];
}

const breaksLongWords = (declarations: string) =>
  /word-break:\s*break-word/.test(declarations) || /overflow-wrap:\s*(anywhere|break-word)/.test(declarations);

describe('styles for text people wrote', () => {
  it('breaks a long word (a URL) in a reviewer’s rationale, like the content and the trace', () => {
    expect(breaksLongWords(rule('.message__content'))).toBe(true);
    expect(breaksLongWords(rule('.trace'))).toBe(true);
    // The audit page's review history and the review page's escalation banner.
    expect(breaksLongWords(rule('.history__rationale'))).toBe(true);
    expect(rule('.history__rationale')).toMatch(/overflow-wrap:\s*anywhere/);
  });

  it('breaks long words in the other places that show what someone wrote', () => {
    expect(breaksLongWords(rule('.review-recorded__label'))).toBe(true); // the label just recorded
    expect(breaksLongWords(rule('.timeline__note'))).toBe(true); // a policy version's note
    expect(breaksLongWords(rule('.category-list__item dd'))).toBe(true); // a policy category's description
    expect(breaksLongWords(rule('.alert'))).toBe(true); // errors that quote a URL
  });
});
