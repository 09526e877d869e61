import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';

import { ApiError, type FieldError } from '../../api';
import { ErrorMessage, Loading, errorMessage } from '../../components/Feedback';
import { Dialog } from '../../components/Dialog';
import {
  EMPTY_NEW_KEY,
  NEW_KEY_FIELDS,
  checkKeyEdit,
  checkNewKey,
  createApiKey,
  curlExample,
  describeChanges,
  describeKeyEvent,
  editFormOf,
  errorsByField,
  fetchApiKeyEvents,
  fetchApiKeys,
  formatLastUsed,
  formatRateLimit,
  keyChanges,
  listedPart,
  mergeApiKeys,
  newKeyBody,
  removesWebhook,
  revokeApiKey,
  rotateWebhookSecret,
  updateApiKey,
  withEdits,
  withoutSecrets,
  type ApiKey,
  type CreatedApiKey,
  type KeyEdit,
  type NewApiKeyForm,
  type NewKeyField,
} from '../../lib/apiKeys';
import { fetchPolicies } from '../../lib/decisions';
import type { PolicySummary } from '../../lib/policies';
import { formatDateTime } from '../../lib/format';
import { useResource } from '../../lib/useResource';
import { ConfirmDialog } from '../policies/ConfirmDialog';

/** Why the last "Create key" (or an edit's "Save") did not save: the form's own check, or the server's answer. */
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

/** Secrets the page shows once: a new key's, or the webhook secret a change or a rotation made. */
export type OneTimeSecrets =
  | { kind: 'created'; key: CreatedApiKey }
  | { kind: 'webhook-added' | 'webhook-rotated'; key: ApiKey; webhookSecret: string };

/** The panel that shows secrets once: "Done" drops them from the page. */
function SecretPanel({ secrets, onDone }: { secrets: OneTimeSecrets; onDone: () => void }) {
  const headingRef = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    headingRef.current?.focus();
  }, [secrets]);

  const { key } = secrets;
  return (
    <section
      className="card card--secret"
      aria-labelledby="api-key-secret-heading"
      data-testid="api-key-secret-panel"
      data-kind={secrets.kind}
    >
      <div className="card__header">
        <h2 id="api-key-secret-heading" ref={headingRef} tabIndex={-1}>
          {secrets.kind === 'created' ? `Key “${key.name}” created` : `Webhook secret for “${key.name}”`}
        </h2>
        <span className="mono muted">{key.prefix}</span>
      </div>
      {secrets.kind === 'created' ? <CreatedSecrets created={secrets.key} /> : <WebhookSecret secrets={secrets} />}
      <div className="form__buttons">
        <button type="button" className="button button--primary" onClick={onDone} data-testid="api-key-done">
          Done
        </button>
        <span className="form__hint">
          {secrets.kind === 'created'
            ? `I have stored the key${secrets.key.webhook_secret ? ' and the webhook secret' : ''}.`
            : 'I have stored the webhook secret.'}
        </span>
      </div>
    </section>
  );
}

const signsHint = (url: string) =>
  `Signs each delivery to ${url} (X-Arbiter-Signature, HMAC-SHA256): the receiver checks it with this secret.`;

/** A new key's token, its webhook secret if it has a webhook, and a curl call to try it. */
function CreatedSecrets({ created }: { created: CreatedApiKey }) {
  const curlRef = useRef<HTMLPreElement>(null);
  const curl = curlExample(window.location.origin, created.key, created.policy);
  return (
    <>
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
          hint={signsHint(created.webhook_url)}
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
    </>
  );
}

/** The webhook secret a key gained with a webhook, or got from a rotation: the key itself is unchanged. */
function WebhookSecret({ secrets }: { secrets: Extract<OneTimeSecrets, { kind: 'webhook-added' | 'webhook-rotated' }> }) {
  const { key } = secrets;
  return (
    <>
      <div className="secret-note" role="note" data-testid="api-key-once-note">
        <p className="secret-note__title">Copy the webhook secret now: it will not be shown again.</p>
        {secrets.kind === 'webhook-rotated' ? (
          <p>
            Every delivery from now on, pending ones included, is signed with this secret, and the old one no longer
            verifies them: give it to the receiver now. If it is lost, rotate the secret again.
          </p>
        ) : (
          <p>
            The key now posts the decisions it requests with async to its webhook, each signed with this secret. Once you
            press Done or leave this page, it cannot be read here again; if it is lost, rotate the secret.
          </p>
        )}
        <p>The service's API key is unchanged.</p>
      </div>
      <SecretField
        id="api-key-webhook-secret"
        label="Webhook secret"
        value={secrets.webhookSecret}
        hint={signsHint(key.webhook_url)}
      />
    </>
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

/** A field's hint, shown under it while it has no error; a warning says what saving would take away. */
interface Hint {
  text: ReactNode;
  warning?: boolean;
}

/**
 * The four fields of a key, for the new-key form (`idPrefix` "api-key") and the edit form
 * ("api-key-edit"): each field's errors beside it, otherwise its hint, both tied to it for
 * screen readers.
 */
function KeyFields({
  idPrefix,
  form,
  errors,
  policies,
  hints,
  onChange,
}: {
  idPrefix: string;
  form: NewApiKeyForm;
  errors: Partial<Record<NewKeyField, string[]>>;
  policies: PolicySummary[];
  hints: Record<NewKeyField, Hint | null>;
  onChange: (field: NewKeyField, value: string) => void;
}) {
  const id = (field: NewKeyField) => `${idPrefix}-${field}`;
  const below = (field: NewKeyField) => {
    const messages = errors[field];
    if (messages?.length) {
      return (
        <p id={`${id(field)}-error`} className="form__error" data-testid={`${id(field)}-error`}>
          {messages.join(' ')}
        </p>
      );
    }
    const hint = hints[field];
    if (!hint) return null;
    return (
      <p id={`${id(field)}-hint`} className={hint.warning ? 'form__hint form__hint--warning' : 'form__hint'}>
        {hint.text}
      </p>
    );
  };
  const described = (field: NewKeyField) => {
    if (errors[field]?.length) return { 'aria-invalid': true as const, 'aria-describedby': `${id(field)}-error` };
    return hints[field] ? { 'aria-describedby': `${id(field)}-hint` } : {};
  };
  const common = (field: NewKeyField) => ({
    id: id(field),
    name: field,
    value: form[field],
    'data-testid': id(field),
    ...described(field),
  });

  return (
    <div className="api-key-form__grid">
      <div className="form__field">
        <label htmlFor={id('name')}>Name</label>
        <input
          type="text"
          maxLength={100}
          required
          autoComplete="off"
          onChange={(event) => onChange('name', event.target.value)}
          {...common('name')}
        />
        {below('name')}
      </div>
      <div className="form__field">
        <label htmlFor={id('policy')}>Policy</label>
        <select onChange={(event) => onChange('policy', event.target.value)} {...common('policy')}>
          <option value="">None</option>
          {/* A slug the list no longer has (deleted meanwhile, or the list failed) stays selectable, so the form keeps it. */}
          {form.policy && !policies.some((item) => item.slug === form.policy) && (
            <option value={form.policy}>{form.policy}</option>
          )}
          {policies.map((item) => (
            <option key={item.slug} value={item.slug}>
              {item.slug}
              {item.title && item.title !== item.slug ? ` — ${item.title}` : ''}
              {item.published_version === null ? ' (not published)' : ''}
            </option>
          ))}
        </select>
        {below('policy')}
      </div>
      <div className="form__field">
        <label htmlFor={id('rate_limit_per_minute')}>Rate limit per minute</label>
        <input
          type="number"
          inputMode="numeric"
          min={1}
          step={1}
          placeholder={idPrefix === 'api-key' ? 'default' : undefined}
          onChange={(event) => onChange('rate_limit_per_minute', event.target.value)}
          {...common('rate_limit_per_minute')}
        />
        {below('rate_limit_per_minute')}
      </div>
      <div className="form__field">
        <label htmlFor={id('webhook_url')}>Webhook URL</label>
        <input
          type="url"
          inputMode="url"
          autoComplete="off"
          placeholder="https://"
          onChange={(event) => onChange('webhook_url', event.target.value)}
          {...common('webhook_url')}
        />
        {below('webhook_url')}
      </div>
    </div>
  );
}

const policyHint = (policy: string): Hint => ({
  text: policy ? 'Used when a request names no policy.' : 'Without one, each request must name its policy.',
});

/** What saving the edit form would do to the key's webhook, said under the URL. */
function webhookEditHint(key: ApiKey, typed: string): Hint {
  const url = typed.trim();
  if (url === key.webhook_url) {
    if (key.webhook_url) return { text: "Deliveries are signed with the key's webhook secret." };
    return { text: 'Optional: where decisions requested with async are posted, signed.' };
  }
  if (!url) return { text: 'Saving removes the webhook: pending deliveries for this key will not be sent.', warning: true };
  if (!key.webhook_url) return { text: 'The key gains a webhook: its signing secret is shown once, after saving.' };
  return { text: 'Deliveries go to the new URL, signed with the same secret.' };
}

/** Errors for fields other than the form's, or none at all, above the fields. */
function OtherErrors({ refusal, what, testId }: { refusal: Refusal; what: string; testId: string }) {
  const hasFieldErrors = Object.values(refusal.fields).some((messages) => messages?.length);
  if (refusal.error === null && refusal.other.length === 0) return null;
  return (
    <div className="alert alert--error" role="alert" data-testid={testId}>
      <p className="alert__title">{what}</p>
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
  );
}

/** A key's edit form as it stands: what is typed, and why the last Save did not save. */
interface Editing {
  key: ApiKey;
  form: NewApiKeyForm;
  refusal: Refusal | null;
  /** The last Save found nothing to change. */
  unchanged: boolean;
  /** Save is waiting for the removal of the webhook to be confirmed (the form is hidden meanwhile). */
  confirmRemoval: boolean;
  /** The field to focus when the form opens again (the first with an error). */
  focus: NewKeyField;
}

/**
 * The edit form of a key, in a dialog: it stays put whatever the table's scroll, and fits a narrow
 * window (the dialog itself scrolls when the window is short).
 */
function EditKeyDialog({
  editing,
  saving,
  policies,
  onChange,
  onSave,
  onCancel,
}: {
  editing: Editing;
  saving: boolean;
  policies: PolicySummary[];
  onChange: (field: NewKeyField, value: string) => void;
  onSave: () => void;
  onCancel: () => void;
}) {
  const titleId = useId();
  const { key, form, refusal } = editing;

  useEffect(() => {
    document.getElementById(`api-key-edit-${editing.focus}`)?.focus();
    // Only when the dialog opens: typing must not move the focus.
  }, []);

  const hints: Record<NewKeyField, Hint | null> = {
    name: null,
    policy: policyHint(form.policy),
    rate_limit_per_minute: { text: 'Items a minute, counted across all the calls made with the key.' },
    webhook_url: webhookEditHint(key, form.webhook_url),
  };

  return (
    <Dialog
      titleId={titleId}
      onEscape={saving ? undefined : onCancel}
      className="api-key-edit"
      backdropClassName="api-key-edit-backdrop"
      data-testid="api-key-edit"
      data-prefix={key.prefix}
    >
      <KeyDialogHeading titleId={titleId} title={`Edit “${key.name}”`} prefix={key.prefix} />
      <form
        className="form"
        noValidate
        onSubmit={(event: FormEvent<HTMLFormElement>) => {
          event.preventDefault();
          if (!saving) onSave();
        }}
      >
        <p className="form__hint">The service keeps its API key: a saved change applies from its next call on.</p>
        {refusal !== null && <OtherErrors refusal={refusal} what="The key was not saved." testId="api-key-edit-error" />}
        <KeyFields
          idPrefix="api-key-edit"
          form={form}
          errors={refusal?.fields ?? {}}
          policies={policies}
          hints={hints}
          onChange={onChange}
        />
        <p className="form__hint" role="status" data-testid="api-key-edit-status">
          {editing.unchanged ? 'Nothing changed: there is nothing to save.' : ''}
        </p>
        <div className="dialog__actions">
          <button type="button" className="button button--secondary" onClick={onCancel} disabled={saving}>
            Cancel
          </button>
          <button type="submit" className="button button--primary" disabled={saving} data-testid="api-key-edit-save">
            {saving ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * A key's history, in a dialog like the edit form's (the table scrolls sideways on a narrow window, a
 * dialog does not): read afresh each time it opens, and again when `version` changes (after this
 * page changed a key), newest first.
 */
function KeyDialogHeading({ titleId, title, prefix }: { titleId: string; title: string; prefix: string }) {
  return (
    <div className="card__header">
      <h2 id={titleId}>{title}</h2>
      <span className="mono muted">{prefix}</span>
    </div>
  );
}

function HistoryDialog({ apiKey, version, onClose }: { apiKey: ApiKey; version: number; onClose: () => void }) {
  const titleId = useId();
  const closeRef = useRef<HTMLButtonElement>(null);
  const { prefix } = apiKey;
  const events = useResource((signal) => fetchApiKeyEvents(prefix, signal), `${prefix}:${version}`);

  useEffect(() => {
    closeRef.current?.focus();
  }, []);

  return (
    <Dialog
      titleId={titleId}
      onEscape={onClose}
      className="api-key-history"
      backdropClassName="api-key-edit-backdrop"
      aria-busy={events.loading}
      data-testid="api-key-history"
      data-prefix={prefix}
    >
      <KeyDialogHeading titleId={titleId} title={`History of “${apiKey.name}”`} prefix={prefix} />
      {events.error !== null && (
        <ErrorMessage title="Could not load the history" error={events.error} onRetry={events.reload} />
      )}
      {events.loading && <Loading label="Loading the history…" />}
      {!events.loading && events.error === null && events.data?.length === 0 && (
        <p className="muted" data-testid="api-key-history-empty">
          Nothing is recorded for this key: it was made before its history was kept, and nothing was done to it since.
        </p>
      )}
      {!events.loading && events.error === null && events.data && events.data.length > 0 && (
        <ol className="timeline api-key-history__list" aria-label="Events, newest first" data-testid="api-key-history-list">
          {events.data.map((event, index) => {
            const { summary, details } = describeKeyEvent(event);
            return (
              <li key={index} className={`timeline__item api-key-history__item--${event.kind}`} data-kind={event.kind}>
                <p className="api-key-history__line" data-testid="api-key-history-line">
                  <strong>{summary}</strong>
                  {details && ` — ${details}`}
                </p>
                <p className="small muted">
                  <time dateTime={event.created_at}>{formatDateTime(event.created_at)}</time>
                </p>
              </li>
            );
          })}
        </ol>
      )}
      <div className="dialog__actions">
        <button ref={closeRef} type="button" className="button button--secondary" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

/** A change or rotation refused because the key is no longer what the row showed: revoked, without a webhook, or gone. */
function outdatedRow(error: unknown): error is ApiError {
  return (
    error instanceof ApiError &&
    ((error.status === 409 && (error.code === 'revoked' || error.code === 'no_webhook')) || error.status === 404)
  );
}

function outdatedMessage(key: ApiKey, error: ApiError, doing: string): string {
  const which = `“${key.name}” (${key.prefix})`;
  if (error.code === 'revoked') {
    return `${which} was revoked meanwhile, so it cannot be ${doing}: a revoked key stays as it was. The list now shows it.`;
  }
  if (error.code === 'no_webhook') {
    return `${which} has no webhook any more, so it has no secret to rotate. The list now shows it.`;
  }
  return `${which} no longer exists (${error.message}). The list is read again.`;
}

export function ApiKeysPage() {
  const keys = useResource((signal) => fetchApiKeys(signal), 'api-keys');
  const policies = useResource((signal) => fetchPolicies(signal), 'policies');

  const [form, setForm] = useState<NewApiKeyForm>(EMPTY_NEW_KEY);
  const [creating, setCreating] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  // The one copy of secrets in the page (a new key's, or a new webhook secret); "Done" sets it back to null.
  const [secrets, setSecrets] = useState<OneTimeSecrets | null>(null);
  // Keys this page made or revoked, shown at once while the list is read again.
  const [local, setLocal] = useState<ApiKey[]>([]);
  // Keys as this page's changes and rotations left them, over the list shown then.
  const [edits, setEdits] = useState<KeyEdit[]>([]);
  const [showRevoked, setShowRevoked] = useState(true);

  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const [editing, setEditing] = useState<Editing | null>(null);
  const [saving, setSaving] = useState(false);
  // The button that opened the edit form, focused again when it closes.
  const editOpener = useRef<HTMLElement | null>(null);

  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [rotateBusy, setRotateBusy] = useState(false);
  const [rotateError, setRotateError] = useState<unknown>(null);

  // The key whose history is open (by prefix: the dialog follows the row), and how many changes this
  // page has made, so that an open history reads its key's events again after one.
  const [historyOf, setHistoryOf] = useState<ApiKey | null>(null);
  const [changesMade, setChangesMade] = useState(0);
  // The History button that opened it, focused again when it closes.
  const historyOpener = useRef<HTMLElement | null>(null);

  // Why a change or rotation found the key no longer as its row showed it, said beside the table.
  const [rowAlert, setRowAlert] = useState<string | null>(null);
  const rowAlertRef = useRef<HTMLParagraphElement>(null);

  const listedRef = useRef<ApiKey[] | null>(null);
  listedRef.current = keys.data;

  useEffect(() => {
    document.title = 'API keys · Arbiter';
  }, []);

  useEffect(() => {
    if (rowAlert) rowAlertRef.current?.focus();
  }, [rowAlert]);

  const rows = keys.data ? withEdits(mergeApiKeys(keys.data, local), keys.data, edits) : [];
  const revokedCount = rows.filter((key) => key.revoked_at).length;
  const shown = showRevoked ? rows : rows.filter((key) => !key.revoked_at);
  const now = Date.now();
  const policyList = policies.data ?? [];

  function update(field: NewKeyField, value: string) {
    setForm((previous) => ({ ...previous, [field]: value }));
    // The field's error goes with the value it was about; the others stay until the next try.
    setRefusal((previous) => (previous?.fields[field] ? { ...previous, fields: { ...previous.fields, [field]: undefined } } : previous));
  }

  const firstInvalid = (fields: Refusal['fields']) => NEW_KEY_FIELDS.find((field) => fields[field]?.length);

  function focusFirstInvalid(fields: Refusal['fields']) {
    const first = firstInvalid(fields);
    if (first) document.getElementById(`api-key-${first}`)?.focus();
  }

  /** Clears what the last action said, before the next one. */
  function startAction() {
    setNotice(null);
    setRowAlert(null);
  }

  /** Keeps a key as a change or rotation answered it, until a list read after it replaces it. */
  function remember(key: ApiKey) {
    const basis = listedRef.current;
    setEdits((previous) => [...previous.filter((edit) => edit.basis === basis), { basis, key }]);
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (creating || secrets) return;
    startAction();
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
      setSecrets({ kind: 'created', key: answer });
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
      setChangesMade((count) => count + 1);
      setRevoking(null);
      setNotice(`“${answer.name}” (${answer.prefix}) is revoked: services using it now get 401.`);
      keys.reload();
    } catch (error) {
      setRevokeError(error);
    } finally {
      setRevokeBusy(false);
    }
  }

  /** The row no longer says what the server knows: say so beside the table and read the list again. */
  function outdated(key: ApiKey, error: ApiError, doing: string) {
    setNotice(null);
    setRowAlert(outdatedMessage(key, error, doing));
    keys.reload();
  }

  function openEdit(key: ApiKey, opener: HTMLElement) {
    startAction();
    editOpener.current = opener;
    setEditing({ key, form: editFormOf(key), refusal: null, unchanged: false, confirmRemoval: false, focus: 'name' });
  }

  function closeEdit() {
    setEditing(null);
    editOpener.current?.focus();
  }

  function updateEdit(field: NewKeyField, value: string) {
    setEditing((previous) => {
      if (!previous) return previous;
      const refused = previous.refusal;
      return {
        ...previous,
        form: { ...previous.form, [field]: value },
        unchanged: false,
        refusal: refused?.fields[field] ? { ...refused, fields: { ...refused.fields, [field]: undefined } } : refused,
      };
    });
  }

  /** Save: the form's own check, then only the changed fields; removing the webhook is confirmed first. */
  async function saveEdit(confirmed: boolean) {
    if (!editing || saving) return;
    const { key, form: typed } = editing;
    const problems = checkKeyEdit(key, typed);
    if (problems.length > 0) {
      const { fields, other } = errorsByField(problems);
      setEditing({ ...editing, refusal: { error: null, fields, other }, unchanged: false });
      document.getElementById(`api-key-edit-${firstInvalid(fields) ?? 'name'}`)?.focus();
      return;
    }
    const changes = keyChanges(key, typed);
    if (Object.keys(changes).length === 0) {
      setEditing({ ...editing, refusal: null, unchanged: true });
      return;
    }
    if (removesWebhook(key, changes) && !confirmed) {
      setEditing({ ...editing, refusal: null, confirmRemoval: true, focus: 'webhook_url' });
      return;
    }
    setSaving(true);
    try {
      const answer = await updateApiKey(key.prefix, changes);
      const listed = listedPart(answer);
      remember(listed);
      setChangesMade((count) => count + 1);
      setEditing(null);
      if (answer.webhook_secret) {
        setSecrets({ kind: 'webhook-added', key: listed, webhookSecret: answer.webhook_secret });
      } else {
        editOpener.current?.focus();
        setNotice(describeChanges(key, changes, listed.name));
      }
      keys.reload();
    } catch (error) {
      if (outdatedRow(error)) {
        setEditing(null);
        outdated(key, error, 'changed');
        return;
      }
      // Everything typed stays; the server's field errors go beside their fields.
      const { fields, other } = errorsByField(error instanceof ApiError ? error.errors : []);
      const focus = firstInvalid(fields) ?? 'name';
      setEditing((previous) => previous && { ...previous, confirmRemoval: false, refusal: { error, fields, other }, focus });
      document.getElementById(`api-key-edit-${focus}`)?.focus();
    } finally {
      setSaving(false);
    }
  }

  async function rotate(key: ApiKey) {
    setRotateBusy(true);
    setRotateError(null);
    try {
      const answer = await rotateWebhookSecret(key.prefix);
      const listed = listedPart(answer);
      remember(listed);
      setChangesMade((count) => count + 1);
      setRotating(null);
      setSecrets({ kind: 'webhook-rotated', key: listed, webhookSecret: answer.webhook_secret });
      keys.reload();
    } catch (error) {
      if (outdatedRow(error)) {
        setRotating(null);
        outdated(key, error, 'rotated');
        return;
      }
      setRotateError(error);
    } finally {
      setRotateBusy(false);
    }
  }

  const createHints: Record<NewKeyField, Hint | null> = {
    name: null,
    policy: policyHint(form.policy),
    rate_limit_per_minute: { text: "Items a minute; empty for the server's default." },
    webhook_url: { text: 'Optional: where decisions requested with async are posted, signed.' },
  };

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
        hash of each key is stored, so a key is shown once, when it is made. Editing a key keeps it; revoking a key
        refuses its next request.
      </p>
      {notice && (
        <p className="alert alert--ok" role="status" data-testid="api-key-notice">
          {notice}
        </p>
      )}

      {secrets && <SecretPanel secrets={secrets} onDone={() => setSecrets(null)} />}

      <form className="card form" onSubmit={submit} aria-labelledby="api-key-form-heading" noValidate data-testid="api-key-form">
        <div className="card__header">
          <h2 id="api-key-form-heading">New key</h2>
        </div>
        {refusal !== null && <OtherErrors refusal={refusal} what="The key was not created." testId="api-key-form-error" />}
        <KeyFields
          idPrefix="api-key"
          form={form}
          errors={refusal?.fields ?? {}}
          policies={policyList}
          hints={createHints}
          onChange={update}
        />
        {policies.error !== null && (
          <ErrorMessage title="Could not load the policies" error={policies.error} onRetry={policies.reload} />
        )}
        <div className="form__buttons">
          <button
            type="submit"
            className="button button--primary"
            disabled={creating || secrets !== null}
            data-testid="api-key-create"
          >
            {creating ? 'Creating…' : 'Create key'}
          </button>
          {secrets !== null && <span className="form__hint">Press Done on the secrets above first.</span>}
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
        {rowAlert && (
          <p className="alert alert--error" role="alert" tabIndex={-1} ref={rowAlertRef} data-testid="api-key-row-alert">
            {rowAlert}
          </p>
        )}
        {secrets !== null && shown.some((key) => !key.revoked_at) && (
          <p className="form__hint" data-testid="api-keys-secret-pending">
            Press Done on the secrets above before editing a key or rotating its webhook secret.
          </p>
        )}
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
                    <td className="api-key-actions-cell">
                      <div className="api-key-actions">
                        {!key.revoked_at && (
                          <>
                            <button
                              type="button"
                              className="button button--secondary button--small"
                              onClick={(event) => openEdit(key, event.currentTarget)}
                              disabled={secrets !== null}
                              aria-label={`Edit ${key.name} (${key.prefix})`}
                              data-testid={`edit-${key.prefix}`}
                            >
                              Edit
                            </button>
                            {key.webhook_url && (
                              <button
                                type="button"
                                className="button button--secondary button--small"
                                onClick={() => {
                                  startAction();
                                  setRotateError(null);
                                  setRotating(key);
                                }}
                                disabled={secrets !== null}
                                aria-label={`Rotate secret of ${key.name} (${key.prefix})`}
                                data-testid={`rotate-${key.prefix}`}
                              >
                                Rotate secret
                              </button>
                            )}
                          </>
                        )}
                        <button
                          type="button"
                          className="button button--secondary button--small"
                          onClick={(event) => {
                            historyOpener.current = event.currentTarget;
                            setHistoryOf(key);
                          }}
                          aria-label={`History of ${key.name} (${key.prefix})`}
                          data-testid={`history-${key.prefix}`}
                        >
                          History
                        </button>
                        {!key.revoked_at && (
                          <button
                            type="button"
                            className="button button--secondary button--small"
                            onClick={() => {
                              startAction();
                              setRevokeError(null);
                              setRevoking(key);
                            }}
                            aria-label={`Revoke ${key.name} (${key.prefix})`}
                            data-testid={`revoke-${key.prefix}`}
                          >
                            Revoke
                          </button>
                        )}
                      </div>
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

      {historyOf && (
        <HistoryDialog
          apiKey={rows.find((key) => key.prefix === historyOf.prefix) ?? historyOf}
          version={changesMade}
          onClose={() => {
            setHistoryOf(null);
            historyOpener.current?.focus();
          }}
        />
      )}

      {editing && !editing.confirmRemoval && (
        <EditKeyDialog
          editing={editing}
          saving={saving}
          policies={policyList}
          onChange={updateEdit}
          onSave={() => void saveEdit(false)}
          onCancel={closeEdit}
        />
      )}

      {editing?.confirmRemoval && (
        <ConfirmDialog
          title={`Remove the webhook of “${editing.key.name}”?`}
          confirmLabel={saving ? 'Saving…' : 'Remove webhook and save'}
          busy={saving}
          onConfirm={() => void saveEdit(true)}
          onCancel={() => setEditing({ ...editing, confirmRemoval: false, focus: 'webhook_url' })}
        >
          <p data-testid="remove-webhook-warning">
            <strong>Pending deliveries for this key will not be sent.</strong> Decisions it requests with async from now
            on are posted nowhere; the service can still fetch each one from the API.
          </p>
          <p className="small muted">
            Its webhook was <span className="api-key-dialog-url">{editing.key.webhook_url}</span>.
          </p>
        </ConfirmDialog>
      )}

      {rotating && (
        <ConfirmDialog
          title={`Rotate the webhook secret of “${rotating.name}”?`}
          confirmLabel={rotateBusy ? 'Rotating…' : 'Rotate secret'}
          busy={rotateBusy}
          onConfirm={() => void rotate(rotating)}
          onCancel={() => {
            setRotating(null);
            setRotateError(null);
          }}
        >
          <p data-testid="rotate-warning">
            A new secret is made and shown once. <strong>Every delivery from now on, pending ones included, is signed
            with the new secret</strong>, so the receiver at{' '}
            <span className="api-key-dialog-url">{rotating.webhook_url}</span> must be updated (or accept both secrets
            while you switch), or it will reject them.
          </p>
          <p className="small muted">The service's API key does not change.</p>
          {rotateError !== null && <ErrorMessage title="Could not rotate the secret" error={rotateError} />}
        </ConfirmDialog>
      )}

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
