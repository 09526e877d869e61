import type { ComponentType, ReactNode } from 'react';
import { Link, Outlet, Route, Routes } from 'react-router-dom';

import { RequireAuth, useAuth } from './auth';
import { AppShell } from './components/AppShell';
import { canAccess, SECTIONS, type Audience, type SectionPath } from './nav';
import { LoginPage } from './pages/LoginPage';
import { StatusPage } from './pages/StatusPage';

/** The page of each section in nav.ts; the type makes a section without a page a compile error. */
const PAGES: Record<SectionPath, ComponentType> = {
  '/': StatusPage,
};

function RequireRole({ roles, children }: { roles: Audience; children: ReactNode }) {
  const { user } = useAuth();
  if (!canAccess(user, roles)) {
    return (
      <div className="stack">
        <h1>No access</h1>
        <p>Your account does not have a role that can open this section.</p>
        <p>
          <Link to="/">Go to System status</Link>
        </p>
      </div>
    );
  }
  return <>{children}</>;
}

function NotFound() {
  return (
    <div className="stack">
      <h1>Page not found</h1>
      <p>There is no page at this address.</p>
      <p>
        <Link to="/">Go to System status</Link>
      </p>
    </div>
  );
}

function SignedInLayout() {
  return (
    <RequireAuth>
      <AppShell>
        <Outlet />
      </AppShell>
    </RequireAuth>
  );
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<SignedInLayout />}>
        {SECTIONS.map((section) => {
          const Page = PAGES[section.path];
          return (
            <Route
              key={section.path}
              path={section.path}
              element={
                <RequireRole roles={section.roles}>
                  <Page />
                </RequireRole>
              }
            />
          );
        })}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
