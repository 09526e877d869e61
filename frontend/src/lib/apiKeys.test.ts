import { describe, expect, it } from 'vitest';

import {
  EMPTY_NEW_KEY,
  checkKeyEdit,
  checkNewKey,
  curlExample,
  describeChanges,
  describeKeyEvent,
  editFormOf,
  errorsByField,
  formatLastUsed,
  formatRateLimit,
  keyChanges,
  keyEventLine,
  listedPart,
  mergeApiKeys,
  newKeyBody,
  removesWebhook,
  sortApiKeys,
  withEdits,
  withoutSecrets,
  type ApiKey,
  type ApiKeyEvent,
} from './apiKeys';

const KEY: ApiKey = {
  prefix: 'aaaa1111',
  name: 'chat',
  policy: 'core-safety',
  rate_limit_per_minute: 600,
  webhook_url: '',
  created_by: 'admin',
  created_at: '2026-12-01T10:00:00Z',
  last_used_at: null,
  revoked_at: null,
};

describe('the new-key form', () => {
  it('needs a name and a whole-number rate, and leaves the rest to the server', () => {
    expect(checkNewKey(EMPTY_NEW_KEY).map((error) => error.field)).toEqual(['name']);
    expect(checkNewKey({ ...EMPTY_NEW_KEY, name: '  ' }).map((error) => error.field)).toEqual(['name']);
    expect(checkNewKey({ ...EMPTY_NEW_KEY, name: 'chat', rate_limit_per_minute: '1.5' }).map((e) => e.field)).toEqual([
      'rate_limit_per_minute',
    ]);
    // 0 is a whole number: the server says it must be at least 1, beside the field.
    expect(checkNewKey({ ...EMPTY_NEW_KEY, name: 'chat', rate_limit_per_minute: '0' })).toEqual([]);
  });

  it('sends only what was filled in, trimmed, the rate as a number', () => {
    expect(newKeyBody({ ...EMPTY_NEW_KEY, name: ' chat ' })).toEqual({ name: 'chat' });
    expect(
      newKeyBody({ name: 'chat', policy: 'core-safety', rate_limit_per_minute: ' 120 ', webhook_url: ' https://h.example/x ' }),
    ).toEqual({ name: 'chat', policy: 'core-safety', rate_limit_per_minute: 120, webhook_url: 'https://h.example/x' });
  });

  it('puts each error beside its field and keeps the others', () => {
    const { fields, other } = errorsByField([
      { field: 'webhook_url', message: 'Enter a valid URL.' },
      { field: 'rate_limit_per_minute', message: 'Ensure this value is greater than or equal to 1.' },
      { field: 'webhook_url', message: 'must be an http:// or https:// URL' },
      { field: 'surprise', message: 'Unknown.' },
      { message: 'No field at all.' },
    ]);
    expect(fields).toEqual({
      webhook_url: ['Enter a valid URL.', 'must be an http:// or https:// URL'],
      rate_limit_per_minute: ['Ensure this value is greater than or equal to 1.'],
    });
    expect(other.map((error) => error.message)).toEqual(['Unknown.', 'No field at all.']);
  });
});

describe('the edit form', () => {
  const HOOKED: ApiKey = { ...KEY, webhook_url: 'https://h.example/x' };

  it('opens with the key as it is', () => {
    expect(editFormOf(HOOKED)).toEqual({
      name: 'chat',
      policy: 'core-safety',
      rate_limit_per_minute: '600',
      webhook_url: 'https://h.example/x',
    });
    expect(editFormOf({ ...KEY, policy: null, rate_limit_per_minute: null })).toMatchObject({ policy: '', rate_limit_per_minute: '' });
  });

  it('needs a name and a whole-number rate, which cannot be emptied', () => {
    expect(checkKeyEdit(KEY, editFormOf(KEY))).toEqual([]);
    expect(checkKeyEdit(KEY, { ...editFormOf(KEY), name: ' ', rate_limit_per_minute: '' }).map((e) => e.field)).toEqual([
      'name',
      'rate_limit_per_minute',
    ]);
    expect(checkKeyEdit(KEY, { ...editFormOf(KEY), rate_limit_per_minute: '2.5' }).map((e) => e.field)).toEqual([
      'rate_limit_per_minute',
    ]);
    // A key without a rate of its own may stay without one.
    const noRate = { ...KEY, rate_limit_per_minute: null };
    expect(checkKeyEdit(noRate, editFormOf(noRate))).toEqual([]);
  });

  it('sends only the fields that changed, trimmed, with null for no policy and "" for no webhook', () => {
    expect(keyChanges(HOOKED, editFormOf(HOOKED))).toEqual({});
    expect(keyChanges(HOOKED, { ...editFormOf(HOOKED), name: ' chat ', webhook_url: ' https://h.example/x ' })).toEqual({});
    expect(keyChanges(HOOKED, { ...editFormOf(HOOKED), rate_limit_per_minute: '0600' })).toEqual({});
    expect(keyChanges(HOOKED, { ...editFormOf(HOOKED), rate_limit_per_minute: ' 120 ' })).toEqual({ rate_limit_per_minute: 120 });
    expect(
      keyChanges(HOOKED, { name: ' bot ', policy: '', rate_limit_per_minute: '600', webhook_url: '  ' }),
    ).toEqual({ name: 'bot', policy: null, webhook_url: '' });
    expect(keyChanges({ ...KEY, policy: null }, { ...editFormOf(KEY), policy: 'kids' })).toEqual({ policy: 'kids' });
    expect(keyChanges(KEY, { ...editFormOf(KEY), webhook_url: 'https://h.example/new' })).toEqual({
      webhook_url: 'https://h.example/new',
    });
  });

  it('knows when a save takes the webhook away', () => {
    expect(removesWebhook(HOOKED, { webhook_url: '' })).toBe(true);
    expect(removesWebhook(HOOKED, { webhook_url: 'https://h.example/y' })).toBe(false);
    expect(removesWebhook(HOOKED, { name: 'x' })).toBe(false);
    expect(removesWebhook(KEY, { webhook_url: '' })).toBe(false);
  });

  it('says what a save changed', () => {
    expect(describeChanges(KEY, { rate_limit_per_minute: 5 })).toBe(
      'Saved the rate limit of “chat” (aaaa1111): its next call sees the change.',
    );
    expect(describeChanges(KEY, { name: 'bot', policy: null, webhook_url: 'https://h.example/y' }, 'bot')).toBe(
      'Saved the name, policy and webhook URL of “bot” (aaaa1111): its next call sees the change.',
    );
    expect(describeChanges(HOOKED, { webhook_url: '' })).toBe(
      'Removed the webhook of “chat” (aaaa1111): pending deliveries will not be sent.',
    );
    expect(describeChanges(HOOKED, { policy: 'kids', webhook_url: '' })).toBe(
      'Saved the policy of “chat” (aaaa1111): its next call sees the change. Its webhook is removed: pending deliveries will not be sent.',
    );
  });
});

describe('the key list', () => {
  const older = { ...KEY, prefix: 'older', created_at: '2026-11-01T00:00:00Z' };
  const revoked = { ...KEY, prefix: 'revoked', created_at: '2026-12-05T00:00:00Z', revoked_at: '2026-12-06T00:00:00Z' };

  it('lists active keys first, then revoked ones, each newest first', () => {
    const keys = [older, revoked, KEY];
    expect(sortApiKeys(keys).map((key) => key.prefix)).toEqual(['aaaa1111', 'older', 'revoked']);
    expect(keys.map((key) => key.prefix)).toEqual(['older', 'revoked', 'aaaa1111']); // unchanged
  });

  it('shows a key made or revoked here before the list is read again, never unrevoking one', () => {
    const made = { ...KEY, prefix: 'new', created_at: '2026-12-09T00:00:00Z' };
    const nowRevoked = { ...older, revoked_at: '2026-12-09T00:00:00Z' };
    expect(mergeApiKeys([KEY, older], [made, nowRevoked]).map((key) => [key.prefix, key.revoked_at])).toEqual([
      ['new', null],
      ['aaaa1111', null],
      ['older', '2026-12-09T00:00:00Z'],
    ]);
    // A list read after the revoke says the same; a stale local copy does not win over it.
    expect(mergeApiKeys([nowRevoked], [older])[0].revoked_at).toBe('2026-12-09T00:00:00Z');
  });

  it('shows a changed key over the list it was changed on, until a list read after the change', () => {
    const listed = [KEY, older];
    const renamed = { ...KEY, name: 'renamed' };
    const edits = [
      { basis: listed, key: { ...KEY, name: 'first' } },
      { basis: listed, key: renamed },
      { basis: [KEY], key: { ...older, name: 'over another list' } },
    ];
    expect(withEdits(listed, listed, edits).map((key) => key.name)).toEqual(['renamed', 'chat']);
    // A list read again holds the change, or a newer one: it wins.
    const reread = [{ ...KEY, name: 'changed again' }, older];
    expect(withEdits(reread, reread, edits).map((key) => key.name)).toEqual(['changed again', 'chat']);
    // A key revoked here stays revoked.
    const nowRevoked = { ...KEY, revoked_at: '2026-12-09T00:00:00Z' };
    expect(withEdits([nowRevoked], listed, edits)[0]).toBe(nowRevoked);
  });

  it('keeps no webhook secret of a changed key in the list', () => {
    const listed = listedPart({ ...KEY, webhook_url: 'https://h.example/x', webhook_secret: 'whsec' });
    expect(listed).toEqual({ ...KEY, webhook_url: 'https://h.example/x' });
    expect(JSON.stringify(listed)).not.toContain('whsec');
  });

  it('keeps no secret of a created key in the list', () => {
    const listed = withoutSecrets({ ...KEY, key: 'ak_aaaa1111_secret', webhook_secret: 'whsec' });
    expect(listed).toEqual(KEY);
    expect(JSON.stringify(listed)).not.toContain('secret');
  });
});

describe('display formats', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');

  it('says when a key was last used, or never', () => {
    expect(formatLastUsed(null, now)).toBe('never');
    expect(formatLastUsed('2026-12-07T11:59:30Z', now)).toBe('just now');
    expect(formatLastUsed('2026-12-07T11:55:00Z', now)).toBe('5 min ago');
    expect(formatLastUsed('2026-12-07T09:00:00Z', now)).toBe('3 h ago');
    expect(formatLastUsed('2026-12-04T12:00:00Z', now)).toBe('3 days ago');
    expect(formatLastUsed('2026-10-01T12:00:00Z', now)).toBe(new Date('2026-10-01T12:00:00Z').toLocaleString());
  });

  it('writes a rate limit, or the default', () => {
    expect(formatRateLimit(600)).toBe('600 / min');
    expect(formatRateLimit(12000)).toBe('12,000 / min');
    expect(formatRateLimit(null)).toBe('default');
  });

  it('builds a curl call for this host, quoted for a shell', () => {
    expect(curlExample('https://arbiter.example/', 'ak_ab_c', 'core-safety')).toBe(
      [
        `curl -s -H 'Authorization: Bearer ak_ab_c' \\`,
        `     -H 'Content-Type: application/json' \\`,
        `     -d '{"policy": "core-safety", "input": "Text to check"}' \\`,
        `     https://arbiter.example/api/v1/moderate`,
      ].join('\n'),
    );
    expect(curlExample('http://h', 'k', null)).toContain('"policy": "POLICY_SLUG"');
    expect(curlExample('http://h', 'k', "it's")).toContain(`'{"policy": "it'\\''s"`);
  });
});

describe('a line of a key’s history', () => {
  const at = '2026-12-05T10:00:00Z';
  const event = (kind: ApiKeyEvent['kind'], actor: string | null, changes: ApiKeyEvent['changes'] = {}): ApiKeyEvent => ({
    kind,
    actor,
    changes,
    created_at: at,
  });
  const HOOK = 'https://hooks.example.com/arbiter/decisions?team=trust-and-safety';

  it('says what a key was made with, and by whom', () => {
    const made = event('created', 'admin', {
      name: ['', 'chat'],
      policy: [null, 'core-safety'],
      rate_limit_per_minute: [null, 600],
      webhook_url: ['', HOOK],
    });
    expect(keyEventLine(made)).toBe(`Created by admin — name chat, policy core-safety, 600 / min, webhook ${HOOK}`);
    expect(describeKeyEvent(made)).toEqual({
      summary: 'Created by admin',
      details: `name chat, policy core-safety, 600 / min, webhook ${HOOK}`,
    });
  });

  it('says "none" for a key made without a policy or a webhook (the server records only what differs from them)', () => {
    const made = event('created', null, { rate_limit_per_minute: [null, 1200], name: ['', 'batch'] });
    expect(keyEventLine(made)).toBe('Created from the command line — name batch, policy none, 1,200 / min, webhook none');
  });

  it('says each changed field with its old and new value, in the form’s order whatever the server’s', () => {
    const changed = event('updated', 'lead', { rate_limit_per_minute: [600, 5], name: ['svc', 'chat'] });
    expect(keyEventLine(changed)).toBe('Changed by lead — name svc → chat; rate limit 600 → 5 / min');
    expect(describeKeyEvent(changed).summary).toBe('Changed by lead');
  });

  it('says "none" for a policy or a webhook taken away, or given', () => {
    expect(keyEventLine(event('updated', 'lead', { policy: ['core-safety', null] }))).toBe(
      'Changed by lead — policy core-safety → none',
    );
    expect(keyEventLine(event('updated', null, { policy: [null, 'kids'], webhook_url: [HOOK, ''] }))).toBe(
      `Changed from the command line — policy none → kids; webhook ${HOOK} → none`,
    );
    expect(keyEventLine(event('updated', 'lead', { webhook_url: ['', HOOK] }))).toBe(`Changed by lead — webhook none → ${HOOK}`);
  });

  it('says a rotation and a revocation in a few words', () => {
    expect(keyEventLine(event('webhook_secret_rotated', 'lead'))).toBe('Webhook secret rotated by lead');
    expect(keyEventLine(event('webhook_secret_rotated', null))).toBe('Webhook secret rotated from the command line');
    expect(keyEventLine(event('revoked', 'admin'))).toBe('Revoked by admin');
    expect(keyEventLine(event('revoked', null))).toBe('Revoked from the command line');
    expect(describeKeyEvent(event('revoked', null))).toEqual({ summary: 'Revoked from the command line', details: '' });
  });

  it('keeps what it does not know readable rather than dropping it', () => {
    const unknown = {
      kind: 'key_renamed' as ApiKeyEvent['kind'],
      actor: 'ops',
      changes: { color: ['red', 'blue'] as [unknown, unknown] },
    };
    expect(keyEventLine(unknown)).toBe('Key renamed by ops — color red → blue');
    // A malformed change is left out rather than shown as "undefined".
    expect(keyEventLine(event('updated', 'lead', { name: 'chat' as unknown as [unknown, unknown] }))).toBe('Changed by lead');
  });
});
