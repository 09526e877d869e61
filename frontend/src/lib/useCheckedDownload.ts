import { useCallback, useRef, useState, type MouseEvent } from 'react';

import { api, ApiError, fetchCurrentUser, type ApiClient } from '../api';

export interface CheckedDownload {
  /** The download link's click handler. */
  onClick: (event: MouseEvent<HTMLAnchorElement>) => void;
  /** The session is being checked. */
  checking: boolean;
  /** Why the download did not start (null: it did, or was not tried); for the page to show. */
  error: unknown;
}

/** The message when the session check finds nobody signed in, should the app not redirect at once. */
export const DOWNLOAD_SIGNED_OUT =
  'Your session has expired, so the download was not started. Log in again and export once more.';

/**
 * A plain `<a href download>` lets the browser stream a large export straight to a file, but an
 * error answer (a lapsed session's 401) never reaches the app: the browser saves the JSON error, or
 * fails quietly. So a click first asks who is signed in, through the app's client: a lapsed session
 * goes the way of every other 401 (the unauthorized listeners send the user to the login page), and
 * anything else that stops the download is kept in `error`. When the session is fine, the same link
 * is clicked again and the browser downloads as a normal link.
 *
 * Clicks with a modifier (open in a new tab, save as) are left to the browser.
 */
export function useCheckedDownload(client: ApiClient = api): CheckedDownload {
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const passThrough = useRef(false);
  const busy = useRef(false);

  const onClick = useCallback(
    (event: MouseEvent<HTMLAnchorElement>) => {
      if (passThrough.current) {
        passThrough.current = false; // the checked click: the browser downloads
        return;
      }
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      if (busy.current) return;
      const anchor = event.currentTarget;
      busy.current = true;
      setChecking(true);
      setError(null);
      fetchCurrentUser(client)
        .then(
          (user) => {
            if (user === null) {
              setError(new ApiError(401, 'not_authenticated', DOWNLOAD_SIGNED_OUT));
              return;
            }
            passThrough.current = true;
            anchor.click();
            passThrough.current = false;
          },
          (caught: unknown) => setError(caught),
        )
        .finally(() => {
          busy.current = false;
          setChecking(false);
        });
    },
    [client],
  );

  return { onClick, checking, error };
}
