import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router-dom';

import * as backend from './api';
import type { User } from './api';
import { ErrorMessage, Loading } from './components/Feedback';
import { clearReviewDrafts } from './lib/reviewDrafts';

type SessionState =
  | { status: 'loading' }
  | { status: 'error'; error: unknown }
  | { status: 'ready'; user: User | null; expired?: boolean };

interface AuthContextValue {
  session: SessionState;
  /** The signed-in user; only call from inside a `RequireAuth`. */
  user: User | null;
  login(username: string, password: string): Promise<User>;
  logout(): Promise<void>;
  reload(): void;
}

const AuthContext = createContext<AuthContextValue | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<SessionState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    backend.fetchCurrentUser().then(
      (user) => {
        if (!cancelled) setSession({ status: 'ready', user });
      },
      (error: unknown) => {
        if (!cancelled) setSession({ status: 'error', error });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  // A 401 from any call means the session lapsed: drop the user so the guard sends them to /login.
  // `expired` only when someone was signed in: the first session check's 401 is no lapse.
  useEffect(
    () =>
      backend.api.onUnauthorized(() =>
        setSession((previous) => ({
          status: 'ready',
          user: null,
          expired: previous.status === 'ready' && (previous.user !== null || previous.expired === true),
        })),
      ),
    [],
  );

  const login = useCallback(async (username: string, password: string) => {
    const user = await backend.login(username, password);
    setSession({ status: 'ready', user });
    return user;
  }, []);

  const logout = useCallback(async () => {
    await backend.logout();
    // A lapsed session keeps a reviewer's unsent label for when they are back; logging out does not.
    clearReviewDrafts();
    setSession({ status: 'ready', user: null });
  }, []);

  const reload = useCallback(() => {
    setSession({ status: 'loading' });
    setAttempt((n) => n + 1);
  }, []);

  const value = useMemo<AuthContextValue>(
    () => ({ session, user: session.status === 'ready' ? session.user : null, login, logout, reload }),
    [session, login, logout, reload],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth() must be used inside <AuthProvider>.');
  return value;
}

/** The signed-in user, or null (signed out, or outside an `AuthProvider`, as in a page's tests). */
export function useSignedInUser(): User | null {
  return useContext(AuthContext)?.user ?? null;
}

/** Where the login page sends the user afterwards; the guard stores it in the location state. */
export interface LoginLocationState {
  from?: string;
  /** The session lapsed while the user was working (a 401), as opposed to a first visit. */
  expired?: boolean;
}

/** Renders its children only for a signed-in user; anyone else goes to /login and comes back after. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { session, reload } = useAuth();
  const location = useLocation();

  if (session.status === 'loading') return <Loading label="Checking your session…" fullPage />;
  if (session.status === 'error') {
    return (
      <main className="page page--centered">
        <ErrorMessage title="Could not check your session" error={session.error} onRetry={reload} />
      </main>
    );
  }
  if (!session.user) {
    const state: LoginLocationState = {
      from: location.pathname + location.search + location.hash,
      expired: session.expired === true,
    };
    return <Navigate to="/login" replace state={state} />;
  }
  return <>{children}</>;
}
