import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

export interface ResourceOptions {
  /**
   * Leave the last error in place while a reload runs, until the new answer replaces it (the policy
   * pages work this way). By default a reload clears the error and shows as loading.
   */
  keepErrorWhileLoading?: boolean;
}

/**
 * Loads `load(signal)` whenever `key` changes and on `reload()`. A newer load aborts an older one,
 * so a slow answer never overwrites a newer one; the last data stays while a reload runs or fails.
 * Errors are kept for the page to show.
 */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  { keepErrorWhileLoading = false }: ResourceOptions = {},
): Resource<T> {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [attempt, setAttempt] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true, error: keepErrorWhileLoading ? previous.error : null }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [key, attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  return { ...state, reload };
}

/** Calls `tick` every `ms` while `active`; the page uses it to follow queued and running work. */
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (!active) return undefined;
    const id = window.setInterval(() => tickRef.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, active]);
}
