/**
 * Shared setup for the component tests: a fresh React root for every test, a fake backend behind
 * `fetch`, and the few DOM helpers the tests use. Only `*.test.tsx` files import this module, so it
 * never reaches the production bundle.
 */
import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeEach, vi } from 'vitest';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean | undefined;
}

/** A JSON answer, as the backend sends it. */
export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** Answers one request of the fake backend; `undefined` means the backend has no such endpoint (404). */
export type FakeRoute = (url: string, init: RequestInit) => Response | undefined | Promise<Response | undefined>;

/**
 * Puts a fake backend behind the global `fetch` (the test config unstubs it after each test).
 * Returns the requests it receives, in order, as `"METHOD url"`.
 */
export function stubFetch(route: FakeRoute): string[] {
  const requests: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: string, init: RequestInit = {}) => {
      requests.push(`${init.method ?? 'GET'} ${input}`);
      return (await route(input, init)) ?? new Response('not found', { status: 404 });
    }),
  );
  return requests;
}

export interface TestRoot {
  /** The element the test renders into; a new one for every test. */
  readonly container: HTMLDivElement;
  /** Renders `ui` into the container inside `act`, so effects and the first fetches have started. */
  render(ui: ReactNode): Promise<void>;
  /** Polls `find` (letting React and the fake backend work in between) until it returns something. */
  waitFor<T>(find: () => T | null | undefined, what: string): Promise<T>;
  byTestId(id: string): HTMLElement | null;
}

/** Registers a fresh container and React root per test (unmounted and removed after it). */
export function setupTestRoot(): TestRoot {
  let container: HTMLDivElement;
  let root: Root;

  beforeEach(() => {
    globalThis.IS_REACT_ACT_ENVIRONMENT = true;
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });

  return {
    get container() {
      return container;
    },
    async render(ui) {
      await act(async () => {
        root.render(ui);
      });
    },
    async waitFor<T>(find: () => T | null | undefined, what: string): Promise<T> {
      for (let attempt = 0; attempt < 100; attempt++) {
        const found = find();
        if (found) return found;
        await act(async () => {
          await new Promise((resolve) => setTimeout(resolve, 10));
        });
      }
      throw new Error(`timed out waiting for ${what}; page is: ${container.textContent}`);
    },
    byTestId: (id) => container.querySelector<HTMLElement>(`[data-testid="${id}"]`),
  };
}

export async function click(element: HTMLElement) {
  await act(async () => {
    element.click();
  });
}

/** Sets a text field's value the way React notices (through the native setter) and fires `input`. */
export async function typeInto(field: HTMLInputElement | HTMLTextAreaElement, value: string) {
  const prototype = field instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
  await act(async () => {
    Object.getOwnPropertyDescriptor(prototype, 'value')!.set!.call(field, value);
    field.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
