/**
 * The app's sections: the ONE place a new section is added. The navigation is computed from it by
 * `navFor`, and the routes (see App.tsx) are generated from it too, each guarded by the same roles.
 */

export type Role = 'policy_editor' | 'reviewer' | 'ml_engineer';

export const ALL_ROLES: readonly Role[] = ['policy_editor', 'reviewer', 'ml_engineer'];

/**
 * Who may see a section: every signed-in user, administrators (superusers) only, or anyone holding
 * at least one of the listed roles (a superuser holds them all).
 */
export type Audience = 'everyone' | 'admins' | readonly Role[];

export interface NavItem {
  path: string;
  label: string;
  roles: Audience;
}

/** The minimum of a user that access is decided on. */
export interface RoleHolder {
  roles: readonly string[];
  is_superuser: boolean;
}

export const SECTIONS = [
  { path: '/', label: 'System status', roles: 'everyone' },
  { path: '/policies', label: 'Policies', roles: ['policy_editor'] },
  { path: '/playground', label: 'Playground', roles: ['policy_editor'] },
  { path: '/review', label: 'Review', roles: ['reviewer'] },
  { path: '/decisions', label: 'Audit', roles: ['policy_editor', 'reviewer', 'ml_engineer'] },
  { path: '/cases', label: 'Cases', roles: ['policy_editor', 'reviewer', 'ml_engineer'] },
  { path: '/models', label: 'Models', roles: ['ml_engineer'] },
  { path: '/training', label: 'Training', roles: ['ml_engineer'] },
  { path: '/api-keys', label: 'API keys', roles: 'admins' },
] as const satisfies readonly NavItem[];

export type SectionPath = (typeof SECTIONS)[number]['path'];

/** Whether `user` may see something meant for `audience`. A superuser holds every role. */
export function canAccess(user: RoleHolder | null, audience: Audience): boolean {
  if (!user) return false;
  if (audience === 'everyone' || user.is_superuser) return true;
  if (audience === 'admins') return false; // no role opens it, not even all of them
  return audience.some((role) => user.roles.includes(role));
}

/** The navigation entries `user` sees, in config order. Pure: no side effects, no globals. */
export function navFor<T extends NavItem>(user: RoleHolder | null, items: readonly T[]): T[];
export function navFor(user: RoleHolder | null): NavItem[];
export function navFor(user: RoleHolder | null, items: readonly NavItem[] = SECTIONS): NavItem[] {
  return items.filter((item) => canAccess(user, item.roles));
}
