import { useState, type ReactNode } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';

import { useAuth } from '../auth';
import { navFor } from '../nav';
import { ErrorMessage } from './Feedback';

/** The frame around every signed-in page: product name, navigation, the user and "Log out". */
export function AppShell({ children }: { children: ReactNode }) {
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const [loggingOut, setLoggingOut] = useState(false);
  const [logoutError, setLogoutError] = useState<unknown>(null);
  const items = navFor(user);

  async function onLogout() {
    setLoggingOut(true);
    setLogoutError(null);
    try {
      await logout();
      navigate('/login', { replace: true });
    } catch (error) {
      setLogoutError(error);
      setLoggingOut(false);
    }
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="header">
        <div className="header__inner">
          <span className="header__brand">Arbiter</span>
          <nav className="nav" aria-label="Main">
            <ul className="nav__list">
              {items.map((item) => (
                <li key={item.path}>
                  <NavLink to={item.path} end={item.path === '/'} className="nav__link">
                    {item.label}
                  </NavLink>
                </li>
              ))}
            </ul>
          </nav>
          <div className="header__user">
            <span className="header__username" data-testid="current-username">
              {user?.username}
            </span>
            <button
              type="button"
              className="button button--secondary button--small"
              onClick={onLogout}
              disabled={loggingOut}
              data-testid="logout"
            >
              Log out
            </button>
          </div>
        </div>
      </header>
      {logoutError !== null && (
        <div className="shell__banner">
          <ErrorMessage title="Could not log out" error={logoutError} />
        </div>
      )}
      <main id="main" className="page" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
