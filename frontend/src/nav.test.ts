import { describe, expect, it } from 'vitest';

import { canAccess, navFor, SECTIONS, type NavItem, type RoleHolder } from './nav';

const user = (roles: string[], is_superuser = false): RoleHolder => ({ roles, is_superuser });

// A config with one section per role, as the app will have once those sections exist.
const FULL_CONFIG: NavItem[] = [
  { path: '/', label: 'System status', roles: 'everyone' },
  { path: '/policies', label: 'Policies', roles: ['policy_editor'] },
  { path: '/review', label: 'Review', roles: ['reviewer'] },
  { path: '/models', label: 'Models', roles: ['ml_engineer'] },
  { path: '/admin-only', label: 'Admin only', roles: [] },
];

const labels = (items: NavItem[]) => items.map((item) => item.label);

describe('navFor with the real config', () => {
  it('shows System status to every signed-in user, with or without roles', () => {
    expect(labels(navFor(user([])))).toEqual(['System status']);
    expect(labels(navFor(user(['reviewer'])))).toEqual(['System status', 'Review', 'Audit', 'Cases']);
    expect(labels(navFor(user([], true)))).toEqual(labels([...SECTIONS]));
  });

  it('shows nothing to an anonymous visitor', () => {
    expect(navFor(null)).toEqual([]);
  });

  it('shows API keys to superusers only, not to a user holding every role', () => {
    expect(labels(navFor(user([], true)))).toContain('API keys');
    expect(labels(navFor(user(['policy_editor', 'reviewer', 'ml_engineer'])))).not.toContain('API keys');
  });
});

describe('the admins audience', () => {
  it('lets superusers in and nobody else, whatever their roles', () => {
    expect(canAccess(user([], true), 'admins')).toBe(true);
    expect(canAccess(user(['policy_editor', 'reviewer', 'ml_engineer']), 'admins')).toBe(false);
    expect(canAccess(user(['admins']), 'admins')).toBe(false); // a group named like it is no role
    expect(canAccess(null, 'admins')).toBe(false);
  });
});

describe('navFor role filtering', () => {
  it('gives a superuser everything, even sections no role opens', () => {
    expect(labels(navFor(user([], true), FULL_CONFIG))).toEqual([
      'System status',
      'Policies',
      'Review',
      'Models',
      'Admin only',
    ]);
  });

  it.each([
    ['policy_editor', 'Policies'],
    ['reviewer', 'Review'],
    ['ml_engineer', 'Models'],
  ])('gives a %s the shared section and their own', (role, label) => {
    expect(labels(navFor(user([role]), FULL_CONFIG))).toEqual(['System status', label]);
  });

  it('gives a user with no roles only the sections for everyone', () => {
    expect(labels(navFor(user([]), FULL_CONFIG))).toEqual(['System status']);
  });

  it('combines several roles and keeps the config order', () => {
    expect(labels(navFor(user(['ml_engineer', 'policy_editor']), FULL_CONFIG))).toEqual([
      'System status',
      'Policies',
      'Models',
    ]);
  });

  it('ignores roles it does not know', () => {
    expect(labels(navFor(user(['auditor']), FULL_CONFIG))).toEqual(['System status']);
  });

  it('does not change the config it is given', () => {
    const before = JSON.stringify(FULL_CONFIG);
    navFor(user(['reviewer']), FULL_CONFIG);
    expect(JSON.stringify(FULL_CONFIG)).toBe(before);
  });
});

describe('canAccess', () => {
  it('lets a section open to any of several roles be seen by each of them', () => {
    expect(canAccess(user(['reviewer']), ['policy_editor', 'reviewer'])).toBe(true);
    expect(canAccess(user(['ml_engineer']), ['policy_editor', 'reviewer'])).toBe(false);
  });
});
