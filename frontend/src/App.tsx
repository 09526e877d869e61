import type { ComponentType, ReactNode } from 'react';
import { Link, Outlet, Route, Routes } from 'react-router-dom';

import { RequireAuth, useAuth } from './auth';
import { AppShell } from './components/AppShell';
import { canAccess, SECTIONS, type Audience, type SectionPath } from './nav';
import { ApiKeysPage } from './pages/apiKeys/ApiKeysPage';
import { CasesPage } from './pages/cases/CasesPage';
import { DecisionDetailPage } from './pages/decisions/DecisionDetailPage';
import { DecisionsPage } from './pages/decisions/DecisionsPage';
import { LoginPage } from './pages/LoginPage';
import { ModelsPage } from './pages/models/ModelsPage';
import { PlaygroundPage } from './pages/playground/PlaygroundPage';
import { PolicyListPage } from './pages/policies/PolicyListPage';
import { PolicyPage } from './pages/policies/PolicyPage';
import { ReviewPage } from './pages/review/ReviewPage';
import { StatusPage } from './pages/StatusPage';
import { TrainingPage } from './pages/training/TrainingPage';
import { TrainingRunPage } from './pages/training/TrainingRunPage';

/** The page of each section in nav.ts; the type makes a section without a page a compile error. */
const PAGES: Record<SectionPath, ComponentType> = {
  '/': StatusPage,
  '/policies': PolicyListPage,
  '/playground': PlaygroundPage,
  '/review': ReviewPage,
  '/decisions': DecisionsPage,
  '/cases': CasesPage,
  '/models': ModelsPage,
  '/training': TrainingPage,
  '/api-keys': ApiKeysPage,
};

/** Pages below a section (a detail page), open to the same roles as their section. */
const SUBPAGES: { path: string; section: SectionPath; Page: ComponentType }[] = [
  { path: '/decisions/:id', section: '/decisions', Page: DecisionDetailPage },
  { path: '/policies/:slug/*', section: '/policies', Page: PolicyPage },
  { path: '/training/:id', section: '/training', Page: TrainingRunPage },
];

function rolesOf(path: SectionPath): Audience {
  return SECTIONS.find((section) => section.path === path)?.roles ?? [];
}

function RequireRole({ roles, children }: { roles: Audience; children: ReactNode }) {
  const { user } = useAuth();
  if (!canAccess(user, roles)) {
    return (
      <div className="stack">
        <h1>No access</h1>
        <p>
          {roles === 'admins'
            ? 'Only administrators can open this section.'
            : 'Your account does not have a role that can open this section.'}
        </p>
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
        {SUBPAGES.map(({ path, section, Page }) => (
          <Route
            key={path}
            path={path}
            element={
              <RequireRole roles={rolesOf(section)}>
                <Page />
              </RequireRole>
            }
          />
        ))}
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
