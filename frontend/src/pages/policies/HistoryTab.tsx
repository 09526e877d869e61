import { useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';

import { ApiError } from '../../api';
import { ErrorMessage } from '../../components/Feedback';
import { ConfirmDialog } from './ConfirmDialog';
import { when } from './format';
import { policyApi, type PolicySummary, type PolicyVersion } from './policyApi';
import { VersionOptions } from './VersionOptions';

type Pending = { version: PolicyVersion; rollback: boolean };

export function HistoryTab({
  policy,
  versions,
  onChanged,
}: {
  policy: PolicySummary;
  versions: PolicyVersion[];
  onChanged: () => void;
}) {
  const navigate = useNavigate();
  const published = policy.published_version;
  const [pending, setPending] = useState<Pending | null>(null);
  const [note, setNote] = useState('');
  const [force, setForce] = useState(false);
  const [gateRefused, setGateRefused] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [from, setFrom] = useState(versions[1]?.number ?? versions[0]?.number ?? 1);
  const [to, setTo] = useState(versions[0]?.number ?? 1);

  function ask(version: PolicyVersion) {
    setPending({ version, rollback: published !== null && version.number < published });
    setNote('');
    setForce(false);
    setGateRefused(false);
    setError(null);
  }

  async function confirm() {
    if (!pending) return;
    setBusy(true);
    setError(null);
    try {
      await policyApi.publish(policy.slug, pending.version.number, { note: note.trim(), force });
      setDone(
        pending.rollback
          ? `Rolled back: version ${pending.version.number} is live again.`
          : `Version ${pending.version.number} is now published.`,
      );
      setPending(null);
      onChanged();
    } catch (caught) {
      setError(caught);
      if (caught instanceof ApiError && caught.code === 'publish_gate') setGateRefused(true);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="stack">
      {done && (
        <p className="alert alert--ok" role="status" data-testid="publish-done">
          {done}
        </p>
      )}
      <section className="card" aria-labelledby="versions-heading">
        <div className="card__header">
          <h2 id="versions-heading">Versions</h2>
          <form
            className="compare"
            onSubmit={(event) => {
              event.preventDefault();
              navigate(`/policies/${policy.slug}/diff?from=${from}&to=${to}`);
            }}
          >
            <label htmlFor="compare-from">Compare</label>
            <select id="compare-from" value={from} onChange={(event) => setFrom(Number(event.target.value))}>
              <VersionOptions versions={versions} />
            </select>
            <label htmlFor="compare-to">with</label>
            <select id="compare-to" value={to} onChange={(event) => setTo(Number(event.target.value))}>
              <VersionOptions versions={versions} />
            </select>
            <button type="submit" className="button button--secondary button--small">
              Show diff
            </button>
          </form>
        </div>
        <table className="table table--versions" data-testid="version-history">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Message</th>
              <th scope="col">Author</th>
              <th scope="col">Saved</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((version) => {
              const live = version.number === published;
              const rollback = published !== null && version.number < published;
              return (
                <tr key={version.number} data-testid={`version-${version.number}`}>
                  <th scope="row">
                    v{version.number}{' '}
                    {live && <span className="badge badge--ok">Published</span>}
                    <div className="muted mono" title={version.sha256}>
                      {version.sha256.slice(0, 12)}
                    </div>
                  </th>
                  <td>{version.message || <span className="muted">no message</span>}</td>
                  <td>{version.author ?? <span className="muted">system</span>}</td>
                  <td>{when(version.created_at)}</td>
                  <td className="actions">
                    {version.parent !== null && (
                      <Link to={`/policies/${policy.slug}/diff?from=${version.parent}&to=${version.number}`}>
                        Diff with v{version.parent}
                      </Link>
                    )}
                    {!live && (
                      <button type="button" className="button button--secondary button--small" onClick={() => ask(version)}>
                        {rollback ? `Roll back to v${version.number}` : `Publish v${version.number}`}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      {pending && (
        <ConfirmDialog
          title={pending.rollback ? `Roll back to version ${pending.version.number}?` : `Publish version ${pending.version.number}?`}
          confirmLabel={force ? 'Publish anyway' : pending.rollback ? 'Roll back' : 'Publish'}
          busy={busy}
          onConfirm={() => void confirm()}
          onCancel={() => setPending(null)}
        >
          <p>
            {pending.rollback
              ? `Every moderation request that does not pin a version will use version ${pending.version.number} again, in place of version ${published}.`
              : `Every moderation request that does not pin a version will use version ${pending.version.number}${published ? ` in place of version ${published}` : ''}.`}
          </p>
          <div className="form__field">
            <label htmlFor="publish-note">Note for the audit trail{force ? ' (required)' : ''}</label>
            <textarea id="publish-note" rows={2} value={note} onChange={(event) => setNote(event.target.value)} />
          </div>
          {gateRefused && (
            <label className="checkbox">
              <input type="checkbox" checked={force} onChange={(event) => setForce(event.target.checked)} /> Publish past the
              publish gate (recorded in the audit trail)
            </label>
          )}
          {error !== null && <ErrorMessage error={error} />}
        </ConfirmDialog>
      )}
    </div>
  );
}
