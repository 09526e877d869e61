import { useEffect, useRef, useState, type FormEvent } from 'react';

import { ApiError, type FieldError } from '../../api';
import { ErrorMessage, Loading, errorMessage } from '../../components/Feedback';
import {
  EMPTY_NEW_KEY,
  NEW_KEY_FIELDS,
  checkNewKey,
  createApiKey,
  curlExample,
  errorsByField,
  fetchApiKeys,
  formatLastUsed,
  formatRateLimit,
  mergeApiKeys,
  newKeyBody,
  revokeApiKey,
  withoutSecrets,
  type ApiKey,
  type CreatedApiKey,
  type NewApiKeyForm,
  type NewKeyField,
} from '../../lib/apiKeys';
import { fetchPolicies } from '../../lib/decisions';
import { formatDateTime } from '../../lib/format';
import { useResource } from '../../lib/useResource';
import { ConfirmDialog } from '../policies/ConfirmDialog';

/** Why the last "Create key" did not create one: the form's own check, or the server's answer. */
interface Refusal {
  /** The server's error; null when the form's own check stopped it before asking. */
  error: unknown;
  fields: Partial<Record<NewKeyField, string[]>>;
  other: FieldError[];
}

/** Selects all the text of `element`, for the user to copy when the clipboard cannot be written. */
function selectContents(element: HTMLElement | null) {
  const selection = window.getSelection();
  if (!element || !selection) return;
  const range = document.createRange();
  range.selectNodeContents(element);
  selection.removeAllRanges();
  selection.addRange(range);
}

/**
 * A "Copy" button for the text shown in `target`: it writes the clipboard, or where the browser
 * offers none (a page served over plain http to another machine) or refuses, selects the text.
 */
function CopyButton({ text, target, label, testId }: { text: string; target: () => HTMLElement | null; label: string; testId: string }) {
  const [outcome, setOutcome] = useState<'copied' | 'selected' | null>(null);

  async function copy() {
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      setOutcome('copied');
    } catch {
      selectContents(target());
      setOutcome('selected');
    }
  }

  return (
    <span className="copy">
      <button
        type="button"
        className="button button--secondary button--small"
        onClick={() => void copy()}
        aria-label={label}
        data-testid={testId}
      >
        Copy
      </button>
      <span className="copy__status" role="status">
        {outcome === 'copied' && 'Copied'}
        {outcome === 'selected' && 'Selected: press Ctrl+C (⌘C on a Mac) to copy'}
      </span>
    </span>
  );
}

/** One secret of the one-time panel: a label, the value (selectable as a whole) and its Copy button. */
function SecretField({ id, label, value, hint }: { id: string; label: string; value: string; hint?: string }) {
  const valueRef = useRef<HTMLElement>(null);
  return (
    <div className="secret">
      <p className="secret__label" id={`${id}-label`}>
        {label}
      </p>
      <div className="secret__row">
        <code className="secret__value" ref={valueRef} aria-labelledby={`${id}-label`} data-testid={id}>
          {value}
        </code>
        <CopyButton text={value} target={() => valueRef.current} label={`Copy the ${label.toLowerCase()}`} testId={`${id}-copy`} />
      </div>
      {hint && <p className="form__hint">{hint}</p>}
    </div>
  );
}

/** The panel that shows a new key's secrets, once: "Done" drops them from the page. */
function SecretPanel({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);
  const curlRef = useRef<HTMLPreElement>(null);
  const curl = curlExample(window.location.origin, created.key, created.policy);

  useEffect(() => {
    headingRef.current?.focus();
  }, [created.prefix]);

  return (
    <section className="card card--secret" aria-labelledby="api-key-secret-heading" data-testid="api-key-secret-panel">
      <div className="card__header">
        <h2 id="api-key-secret-heading" ref={headingRef} tabIndex={-1}>
          Key “{created.name}” created
        </h2>
        <span className="mono muted">{created.prefix}</span>
      </div>
      <div className="secret-note" role="note" data-testid="api-key-once-note">
        <p className="secret-note__title">Copy the key now: it will not be shown again.</p>
        <p>
          Only a hash of it is stored. Once you press Done or leave this page, nobody can read it back; if it is lost,
          revoke this key and make a new one.
        </p>
      </div>
      <SecretField
        id="api-key-token"
        label="API key"
        value={created.key}
        hint="Services send it in every request as Authorization: Bearer <key>."
      />
      {created.webhook_secret && (
        <SecretField
          id="api-key-webhook-secret"
          label="Webhook secret"
          value={created.webhook_secret}
          hint={`Signs each delivery to ${created.webhook_url} (X-Arbiter-Signature, HMAC-SHA256): the receiver checks it with this secret.`}
        />
      )}
      <div className="secret">
        <p className="secret__label">Try it</p>
        <pre className="code-sample" ref={curlRef} data-testid="api-key-curl">
          {curl}
        </pre>
        <div className="secret__row">
          <CopyButton text={curl} target={() => curlRef.current} label="Copy the example command" testId="api-key-curl-copy" />
        </div>
        {created.policy === null && (
          <p className="form__hint">This key has no policy of its own: each request names one (replace POLICY_SLUG).</p>
        )}
      </div>
      <div className="form__buttons">
        <button type="button" className="button button--primary" onClick={onDone} data-testid="api-key-done">
          Done
        </button>
        <span className="form__hint">I have stored the key{created.webhook_secret ? ' and the webhook secret' : ''}.</span>
      </div>
    </section>
  );
}

function KeyStatus({ apiKey }: { apiKey: ApiKey }) {
  if (!apiKey.revoked_at) return <span className="badge badge--ok">Active</span>;
  return (
    <>
      <span className="badge badge--muted">Revoked</span>
      <p className="small">{formatDateTime(apiKey.revoked_at)}</p>
    </>
  );
}

export function ApiKeysPage() {
  const keys = useResource((signal) => fetchApiKeys(signal), 'api-keys');
  const policies = useResource((signal) => fetchPolicies(signal), 'policies');

  const [form, setForm] = useState<NewApiKeyForm>(EMPTY_NEW_KEY);
  const [creating, setCreating] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  // The one copy of a new key's secrets in the page; "Done" sets it back to null.
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  // Keys this page made or revoked, shown at once while the list is read again.
  const [local, setLocal] = useState<ApiKey[]>([]);
  const [showRevoked, setShowRevoked] = useState(true);

  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    document.title = 'API keys · Arbiter';
  }, []);

  const rows = keys.data ? mergeApiKeys(keys.data, local) : [];
  const revokedCount = rows.filter((key) => key.revoked_at).length;
  const shown = showRevoked ? rows : rows.filter((key) => !key.revoked_at);
  const now = Date.now();

  function update(field: NewKeyField, value: string) {
    setForm((previous) => ({ ...previous, [field]: value }));
    // The field's error goes with the value it was about; the others stay until the next try.
    setRefusal((previous) => (previous?.fields[field] ? { ...previous, fields: { ...previous.fields, [field]: undefined } } : previous));
  }

  function focusFirstInvalid(fields: Refusal['fields']) {
    const first = NEW_KEY_FIELDS.find((field) => fields[field]?.length);
    if (first) document.getElementById(`api-key-${first}`)?.focus();
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (creating || created) return;
    setNotice(null);
    const problems = checkNewKey(form);
    if (problems.length > 0) {
      const { fields, other } = errorsByField(problems);
      setRefusal({ error: null, fields, other });
      focusFirstInvalid(fields);
      return;
    }
    setRefusal(null);
    setCreating(true);
    try {
      const answer = await createApiKey(newKeyBody(form));
      setCreated(answer);
      setLocal((previous) => [...previous, withoutSecrets(answer)]);
      setForm(EMPTY_NEW_KEY);
      keys.reload();
    } catch (error) {
      // Everything typed stays in the form; the server's field errors go beside their fields.
      const { fields, other } = errorsByField(error instanceof ApiError ? error.errors : []);
      setRefusal({ error, fields, other });
      focusFirstInvalid(fields);
    } finally {
      setCreating(false);
    }
  }

  async function revoke(key: ApiKey) {
    setRevokeBusy(true);
    setRevokeError(null);
    try {
      const answer = await revokeApiKey(key.prefix);
      setLocal((previous) => [...previous, answer]);
      setRevoking(null);
      setNotice(`“${answer.name}” (${answer.prefix}) is revoked: services using it now get 401.`);
      keys.reload();
    } catch (error) {
      setRevokeError(error);
    } finally {
      setRevokeBusy(false);
    }
  }

  const fieldError = (field: NewKeyField) => {
    const messages = refusal?.fields[field];
    if (!messages?.length) return null;
    return (
      <p id={`api-key-${field}-error`} className="form__error" data-testid={`api-key-${field}-error`}>
        {messages.join(' ')}
      </p>
    );
  };
  const invalid = (field: NewKeyField) =>
    refusal?.fields[field]?.length
      ? { 'aria-invalid': true as const, 'aria-describedby': `api-key-${field}-error` }
      : {};
  const hasFieldErrors = refusal !== null && Object.values(refusal.fields).some((messages) => messages?.length);

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>API keys</h1>
        <div className="page__actions">
          <button type="button" className="button button--secondary" onClick={keys.reload} disabled={keys.loading}>
            Refresh
          </button>
        </div>
      </div>
      <p className="muted">
        Services call the moderation API with a key, sent as <code>Authorization: Bearer &lt;key&gt;</code>. Only a
        hash of each key is stored, so a key is shown once, when it is made. Revoking a key refuses its next request.
      </p>
      {notice && (
        <p className="alert alert--ok" role="status" data-testid="api-key-notice">
          {notice}
        </p>
      )}

      {created && <SecretPanel created={created} onDone={() => setCreated(null)} />}

      <form className="card form" onSubmit={submit} aria-labelledby="api-key-form-heading" noValidate data-testid="api-key-form">
        <div className="card__header">
          <h2 id="api-key-form-heading">New key</h2>
        </div>
        {refusal !== null && (refusal.error !== null || refusal.other.length > 0) && (
          <div className="alert alert--error" role="alert" data-testid="api-key-form-error">
            <p className="alert__title">The key was not created.</p>
            <p>
              {hasFieldErrors && refusal.other.length === 0
                ? 'Correct the fields marked below; nothing you typed was lost.'
                : errorMessage(refusal.error)}
            </p>
            {refusal.other.length > 0 && (
              <ul className="alert__list">
                {refusal.other.map((error, index) => (
                  <li key={index}>
                    {error.field ? <strong>{error.field}: </strong> : null}
                    {error.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        <div className="api-key-form__grid">
          <div className="form__field">
            <label htmlFor="api-key-name">Name</label>
            <input
              id="api-key-name"
              name="name"
              type="text"
              maxLength={100}
              required
              autoComplete="off"
              value={form.name}
              onChange={(event) => update('name', event.target.value)}
              data-testid="api-key-name"
              {...invalid('name')}
            />
            {fieldError('name')}
          </div>
          <div className="form__field">
            <label htmlFor="api-key-policy">Policy</label>
            <select
              id="api-key-policy"
              name="policy"
              value={form.policy}
              onChange={(event) => update('policy', event.target.value)}
              data-testid="api-key-policy"
              {...invalid('policy')}
            >
              <option value="">None</option>
              {/* A slug the list no longer has (deleted meanwhile) stays selectable, so the form keeps it. */}
              {form.policy && !(policies.data ?? []).some((item) => item.slug === form.policy) && (
                <option value={form.policy}>{form.policy}</option>
              )}
              {(policies.data ?? []).map((item) => (
                <option key={item.slug} value={item.slug}>
                  {item.slug}
                  {item.title && item.title !== item.slug ? ` — ${item.title}` : ''}
                  {item.published_version === null ? ' (not published)' : ''}
                </option>
              ))}
            </select>
            {fieldError('policy')}
            {!refusal?.fields.policy?.length && (
              <p className="form__hint">
                {form.policy ? 'Used when a request names no policy.' : 'Without one, each request must name its policy.'}
              </p>
            )}
          </div>
          <div className="form__field">
            <label htmlFor="api-key-rate_limit_per_minute">Rate limit per minute</label>
            <input
              id="api-key-rate_limit_per_minute"
              name="rate_limit_per_minute"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              placeholder="default"
              value={form.rate_limit_per_minute}
              onChange={(event) => update('rate_limit_per_minute', event.target.value)}
              data-testid="api-key-rate_limit_per_minute"
              {...invalid('rate_limit_per_minute')}
            />
            {fieldError('rate_limit_per_minute')}
            {!refusal?.fields.rate_limit_per_minute?.length && (
              <p className="form__hint">Items a minute; empty for the server's default.</p>
            )}
          </div>
          <div className="form__field">
            <label htmlFor="api-key-webhook_url">Webhook URL</label>
            <input
              id="api-key-webhook_url"
              name="webhook_url"
              type="url"
              inputMode="url"
              autoComplete="off"
              placeholder="https://"
              value={form.webhook_url}
              onChange={(event) => update('webhook_url', event.target.value)}
              data-testid="api-key-webhook_url"
              {...invalid('webhook_url')}
            />
            {fieldError('webhook_url')}
            {!refusal?.fields.webhook_url?.length && (
              <p className="form__hint">Optional: where decisions requested with async are posted, signed.</p>
            )}
          </div>
        </div>
        {policies.error !== null && (
          <ErrorMessage title="Could not load the policies" error={policies.error} onRetry={policies.reload} />
        )}
        <div className="form__buttons">
          <button
            type="submit"
            className="button button--primary"
            disabled={creating || created !== null}
            data-testid="api-key-create"
          >
            {creating ? 'Creating…' : 'Create key'}
          </button>
          {created !== null && <span className="form__hint">Press Done on the new key above first.</span>}
        </div>
      </form>

      <section className="card" aria-labelledby="api-keys-heading" aria-busy={keys.loading}>
        <div className="card__header card__header--wrap">
          <h2 id="api-keys-heading">Keys</h2>
          {keys.data && rows.length > 0 && (
            <div className="card__actions">
              <span className="muted" data-testid="api-keys-count">
                {rows.length - revokedCount} active{revokedCount > 0 ? `, ${revokedCount} revoked` : ''}
              </span>
              {revokedCount > 0 && (
                <label className="checkbox">
                  <input
                    type="checkbox"
                    checked={showRevoked}
                    onChange={(event) => setShowRevoked(event.target.checked)}
                    data-testid="api-keys-show-revoked"
                  />
                  Show revoked keys
                </label>
              )}
            </div>
          )}
        </div>
        {keys.error !== null && <ErrorMessage title="Could not load the API keys" error={keys.error} onRetry={keys.reload} />}
        {keys.loading && !keys.data && <Loading label="Loading API keys…" />}
        {keys.data && rows.length === 0 && (
          <p className="muted" data-testid="api-keys-empty">
            No API keys yet. Make one above for each service that calls the moderation API.
          </p>
        )}
        {shown.length > 0 && (
          <div className="table-scroll">
            <table className="table table--compact" data-testid="api-keys-table">
              <caption className="visually-hidden">API keys, active first, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Rate limit</th>
                  <th scope="col">Webhook</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((key) => (
                  <tr
                    key={key.prefix}
                    className={key.revoked_at ? 'api-key-row--revoked' : undefined}
                    data-testid="api-key-row"
                    data-prefix={key.prefix}
                    data-state={key.revoked_at ? 'revoked' : 'active'}
                  >
                    <th scope="row" className="api-key-name">
                      {key.name}
                    </th>
                    <td className="mono">{key.prefix}</td>
                    <td>{key.policy ?? <span className="muted">none</span>}</td>
                    <td className="api-key-rate">{formatRateLimit(key.rate_limit_per_minute)}</td>
                    <td className="api-key-webhook">{key.webhook_url || <span className="muted">none</span>}</td>
                    <td className="small">
                      <p>{formatDateTime(key.created_at)}</p>
                      {key.created_by && <p className="muted">by {key.created_by}</p>}
                    </td>
                    <td className="small" title={key.last_used_at ? formatDateTime(key.last_used_at) : undefined}>
                      {formatLastUsed(key.last_used_at, now)}
                    </td>
                    <td>
                      <KeyStatus apiKey={key} />
                    </td>
                    <td>
                      {!key.revoked_at && (
                        <button
                          type="button"
                          className="button button--secondary button--small"
                          onClick={() => {
                            setNotice(null);
                            setRevokeError(null);
                            setRevoking(key);
                          }}
                          aria-label={`Revoke ${key.name} (${key.prefix})`}
                          data-testid={`revoke-${key.prefix}`}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {keys.data && rows.length > 0 && shown.length === 0 && (
          <p className="muted">Every key is revoked. Tick “Show revoked keys” to list them.</p>
        )}
      </section>

      {revoking && (
        <ConfirmDialog
          title={`Revoke “${revoking.name}”?`}
          confirmLabel={revokeBusy ? 'Revoking…' : 'Revoke key'}
          busy={revokeBusy}
          onConfirm={() => void revoke(revoking)}
          onCancel={() => {
            setRevoking(null);
            setRevokeError(null);
          }}
        >
          <p data-testid="revoke-warning">
            Services using the key <span className="mono">{revoking.prefix}</span> get <strong>401 Unauthorized</strong>{' '}
            from their next request on. A revoked key cannot be restored: a service that still needs access needs a new
            key.
          </p>
          {revokeError !== null && <ErrorMessage title="Could not revoke the key" error={revokeError} />}
        </ConfirmDialog>
      )}
    </div>
  );
}
