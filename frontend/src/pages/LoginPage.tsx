import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';

import { useAuth, type LoginLocationState } from '../auth';
import { ErrorMessage, Loading } from '../components/Feedback';

/** Only same-app paths are followed after login (never `//host`, never back to /login). */
export function safeRedirectTarget(from: unknown): string {
  if (typeof from !== 'string' || !from.startsWith('/') || from.startsWith('//')) return '/';
  if (from === '/login' || from.startsWith('/login?') || from.startsWith('/login#')) return '/';
  return from;
}

export function LoginPage() {
  const { session, login } = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const locationState = location.state as LoginLocationState | null;
  const target = safeRedirectTarget(locationState?.from);

  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const usernameRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Log in · Arbiter';
  }, []);

  if (session.status === 'loading') return <Loading label="Checking your session…" fullPage />;
  if (session.status === 'ready' && session.user && !submitting) return <Navigate to={target} replace />;

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setSubmitting(true);
    setError(null);
    try {
      await login(username, password);
      navigate(target, { replace: true });
    } catch (caught) {
      setError(caught);
      setPassword('');
      setSubmitting(false);
      usernameRef.current?.focus();
    }
  }

  return (
    <main className="login">
      <div className="login__panel">
        <p className="login__brand">Arbiter</p>
        <h1 className="login__title">Log in</h1>
        <p className="login__intro">Policy-as-code content moderation. Sign in with your staff account.</p>

        {locationState?.expired && (
          <p className="alert alert--info" role="status" data-testid="session-expired">
            Your session has expired. Log in again to carry on: unsaved policy drafts are kept in this browser, and
            a review label you were writing comes back when you claim its item again in this tab.
          </p>
        )}

        {session.status === 'error' && (
          <ErrorMessage title="Could not check your session" error={session.error} />
        )}

        <form className="form" onSubmit={onSubmit} aria-describedby={error ? 'login-error' : undefined}>
          <div className="form__field">
            <label htmlFor="login-username">Username</label>
            <input
              ref={usernameRef}
              id="login-username"
              name="username"
              type="text"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              required
              autoFocus
              value={username}
              onChange={(event) => setUsername(event.target.value)}
              data-testid="login-username"
            />
          </div>
          <div className="form__field">
            <label htmlFor="login-password">Password</label>
            <input
              id="login-password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              data-testid="login-password"
            />
          </div>
          <button type="submit" className="button button--primary button--block" disabled={submitting} data-testid="login-submit">
            Log in
          </button>
          {submitting && (
            <p className="form__hint" role="status">
              Signing in…
            </p>
          )}
        </form>

        <div id="login-error" className="login__error">
          {error !== null && <ErrorMessage error={error} />}
        </div>
      </div>
    </main>
  );
}
