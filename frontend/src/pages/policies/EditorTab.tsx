import { useCallback, useMemo, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';

import { ApiError, type FieldError } from '../../api';
import { ErrorMessage } from '../../components/Feedback';
import { markersFromServer, validatePolicySource, type Marker } from '../../lib/yamlValidation';
import { clearDraft, loadDraft, saveDraft, type Draft } from './drafts';
import { when } from './format';
import type { PolicySummary, PolicyVersion } from './policyApi';
import { policyApi } from './policyApi';
import { usePolicySchema } from './schema';
import { SHORTCUT_LABELS, useShortcuts } from './shortcuts';
import { YamlEditor } from './YamlEditor';

/** The server's line-numbered errors, kept with the source they are about: an edit makes them stale. */
interface ServerErrors {
  source: string;
  errors: FieldError[];
}

function restorableDraft(slug: string, latest: PolicyVersion | null): Draft | null {
  const draft = loadDraft(slug);
  return draft && draft.source !== (latest?.source ?? '') ? draft : null;
}

export function EditorTab({
  policy,
  versions,
  onSaved,
}: {
  policy: PolicySummary;
  versions: PolicyVersion[];
  onSaved: () => void;
}) {
  const slug = policy.slug;
  const latest = versions[0] ?? null;
  const [restored, setRestored] = useState<Draft | null>(() => restorableDraft(slug, latest));
  const [source, setSource] = useState(() => restored?.source ?? latest?.source ?? '');
  const [message, setMessage] = useState('');
  const [serverErrors, setServerErrors] = useState<ServerErrors | null>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<PolicyVersion | null>(null);
  const [storageFailed, setStorageFailed] = useState(false);
  const schema = usePolicySchema();

  const check = useCallback(
    (text: string): Marker[] => [
      ...validatePolicySource(text, schema.validate),
      ...(serverErrors && serverErrors.source === text ? markersFromServer(text, serverErrors.errors) : []),
    ],
    [schema.validate, serverErrors],
  );
  const markers = useMemo(() => check(source), [check, source]);
  const dirty = source !== (latest?.source ?? '');

  function onChange(text: string) {
    setSource(text);
    setSaved(null);
    if (text === (latest?.source ?? '')) {
      clearDraft(slug);
    } else {
      setStorageFailed(!saveDraft(slug, { source: text, baseVersion: latest?.number ?? null }));
    }
  }

  function discardDraft() {
    clearDraft(slug);
    setRestored(null);
    setServerErrors(null);
    setSource(latest?.source ?? '');
  }

  async function save() {
    if (saving) return;
    if (!dirty) {
      setSaveError(new Error(`Nothing to save: the editor matches version ${latest?.number}.`));
      return;
    }
    const submitted = source;
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      const version = await policyApi.createVersion(slug, submitted, message.trim());
      clearDraft(slug);
      setRestored(null);
      setServerErrors(null);
      setMessage('');
      setSaved(version);
      onSaved();
    } catch (error) {
      setSaveError(error);
      if (error instanceof ApiError && error.errors.length > 0) setServerErrors({ source: submitted, errors: error.errors });
    } finally {
      setSaving(false);
    }
  }

  useShortcuts({ save: () => void save() });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    void save();
  }

  const newerSinceDraft = restored && latest && restored.baseVersion !== null && restored.baseVersion < latest.number;

  return (
    <div className="stack">
      {restored && (
        <div className="alert alert--info" role="status" data-testid="draft-restored">
          <p>
            Restored your unsaved draft
            {restored.baseVersion !== null ? ` (started from version ${restored.baseVersion})` : ''}
            {restored.updatedAt ? `, last edited ${when(restored.updatedAt)}` : ''}.
            {newerSinceDraft ? ` Version ${latest.number} was saved since; compare before saving.` : ''}
          </p>
          <button type="button" className="button button--secondary button--small" onClick={discardDraft}>
            Discard draft
          </button>
        </div>
      )}
      {storageFailed && (
        <div className="alert alert--error" role="alert">
          This browser would not keep a copy of your draft: save a version before leaving the page.
        </div>
      )}
      {schema.error !== null && (
        <ErrorMessage title="Could not load the policy schema; only YAML syntax is checked as you type" error={schema.error} />
      )}

      <section className="card editor-card" aria-labelledby="editor-heading">
        <div className="card__header">
          <h2 id="editor-heading">
            Policy YAML{' '}
            <span className="muted editor-card__base">
              {dirty ? `edited from version ${latest?.number ?? '–'}` : `version ${latest?.number ?? '–'}`}
            </span>
          </h2>
          <span
            className={`badge ${markers.length ? 'badge--failed' : 'badge--ok'}`}
            data-testid="editor-status"
            aria-live="polite"
          >
            {markers.length ? `${markers.length} problem${markers.length === 1 ? '' : 's'}` : 'Valid'}
          </span>
        </div>
        <YamlEditor
          value={source}
          onChange={onChange}
          check={check}
          checkKey={check}
          onSave={() => void save()}
          label="Policy YAML"
          describedBy="editor-problems"
        />
        <div id="editor-problems" aria-live="polite">
          {markers.length > 0 && (
            <ul className="problems" data-testid="editor-problems">
              {markers.map((marker, index) => (
                <li key={index} data-origin={marker.origin}>
                  <strong>Line {marker.line}</strong>
                  {marker.path ? <span className="mono"> {marker.path}</span> : null}: {marker.message}
                  {marker.origin === 'server' ? <span className="muted"> (server)</span> : null}
                </li>
              ))}
            </ul>
          )}
        </div>
      </section>

      <form className="card save-form" onSubmit={onSubmit} aria-labelledby="save-heading">
        <h2 id="save-heading">Save as a new version</h2>
        <div className="save-form__row">
          <div className="form__field save-form__message">
            <label htmlFor="version-message">Version message</label>
            <input
              id="version-message"
              type="text"
              maxLength={500}
              placeholder="What changed and why"
              value={message}
              onChange={(event) => setMessage(event.target.value)}
            />
          </div>
          <button type="submit" className="button button--primary" disabled={saving} data-testid="save-version">
            {saving ? 'Saving…' : 'Save version'}
          </button>
        </div>
        <p className="form__hint">
          {SHORTCUT_LABELS.save} saves. Your edits are kept in this browser until they are saved.
        </p>
        {saveError !== null && <ErrorMessage title="The version was not saved" error={saveError} />}
        {saved && (
          <p className="alert alert--ok" role="status" data-testid="saved-version">
            Saved version {saved.number}. <Link to={`/policies/${slug}/history`}>Publish it from the history</Link>.
          </p>
        )}
      </form>
    </div>
  );
}
