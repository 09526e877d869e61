import { useEffect, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';

import { ErrorMessage, Loading } from '../../components/Feedback';
import { useResource } from '../../lib/useResource';
import { loadDraft } from '../policies/drafts';
import {
  policyApi,
  type PlaygroundMessage,
  type PlaygroundRequest,
  type PlaygroundResult,
  type PolicySummary,
} from '../policies/policyApi';
import { SHORTCUT_LABELS, useShortcuts } from '../policies/shortcuts';

type Mode = 'text' | 'conversation';
const DRAFT = 'draft';
const PUBLISHED = 'published';

/** What the version picker offers: the published version, each saved one, and the editor's draft if there is one. */
function versionOptions(policy: PolicySummary | undefined, hasDraft: boolean) {
  const options: { value: string; label: string; disabled?: boolean }[] = [];
  if (!policy) return options;
  options.push({
    value: PUBLISHED,
    label: policy.published_version ? `Published (v${policy.published_version})` : 'Published (none yet)',
    disabled: !policy.published_version,
  });
  for (let n = policy.latest_version ?? 0; n >= 1; n--) options.push({ value: String(n), label: `Version ${n}` });
  options.push({ value: DRAFT, label: hasDraft ? 'Unsaved draft in the editor' : 'Unsaved draft (none)', disabled: !hasDraft });
  return options;
}

export function buildPlaygroundRequest(args: {
  policy: string;
  version: string;
  draftSource: string | null;
  mode: Mode;
  text: string;
  messages: PlaygroundMessage[];
  reasoning: 'full' | 'none';
}): PlaygroundRequest {
  const body: PlaygroundRequest = { policy: args.policy, reasoning: args.reasoning };
  if (args.version === DRAFT && args.draftSource !== null) body.source = args.draftSource;
  else if (args.version !== PUBLISHED) body.policy_version = Number(args.version);
  if (args.mode === 'text') body.input = args.text;
  else body.messages = args.messages;
  return body;
}

function Result({ result }: { result: PlaygroundResult }) {
  const verdict = result.malformed ? 'malformed' : (result.verdict ?? 'malformed');
  return (
    <div className="stack stack--tight" data-testid="playground-result">
      <dl className="verdict">
        <div>
          <dt>Verdict</dt>
          <dd>
            <span className={`badge ${verdict === 'safe' ? 'badge--ok' : 'badge--failed'}`} data-testid="playground-verdict">
              {verdict}
            </span>
            {result.flagged && <span className="tag">flagged</span>}
          </dd>
        </div>
        <div>
          <dt>Score (P unsafe)</dt>
          <dd data-testid="playground-score">
            <meter min={0} max={1} value={result.score} aria-label="Score" /> {result.score.toFixed(3)}
          </dd>
        </div>
        <div>
          <dt>Categories</dt>
          <dd data-testid="playground-categories">
            {result.categories.length === 0 && <span className="muted">none</span>}
            {result.categories.map((code) => (
              <span key={code} className="tag">
                {code}
                {result.category_scores[code] !== undefined && ` ${result.category_scores[code].toFixed(2)}`}
              </span>
            ))}
          </dd>
        </div>
        <div>
          <dt>Judged by</dt>
          <dd className="muted">
            {result.policy.slug} {result.policy.draft ? `unsaved draft (${result.policy.sha256.slice(0, 8)})` : `v${result.policy.version}`}{' '}
            · {result.model.name} · {Math.round(result.latency_ms)} ms
          </dd>
        </div>
      </dl>
      {result.malformed && (
        <p className="alert alert--error">
          {result.raw_output
            ? "The guard's answer did not follow the format"
            : 'The guard could not judge this content'}
          {result.error ? ` (${result.error})` : ''}; in production it would be flagged and reviewed.
        </p>
      )}
      {result.content_truncated && <p className="muted">The content was cut in the middle to fit the guard's limit.</p>}
      <h3>Reasoning trace</h3>
      <pre className="trace" data-testid="playground-trace" tabIndex={0}>
        {result.reasoning || (result.raw_output ? '(no reasoning: verdict-only mode)' : '(empty)')}
      </pre>
      <details>
        <summary>Raw model output</summary>
        <pre className="trace">{result.raw_output}</pre>
      </details>
    </div>
  );
}

export function PlaygroundPage() {
  const [params, setParams] = useSearchParams();
  const policies = useResource(() => policyApi.list(), 'policies', { keepErrorWhileLoading: true });
  const slug = params.get('policy') ?? policies.data?.[0]?.slug ?? '';
  const policy = policies.data?.find((p) => p.slug === slug);
  const draft = slug ? loadDraft(slug) : null;
  const [version, setVersion] = useState(PUBLISHED);
  const [mode, setMode] = useState<Mode>('text');
  const [text, setText] = useState('');
  const [messages, setMessages] = useState<PlaygroundMessage[]>([
    { role: 'user', content: '' },
    { role: 'assistant', content: '' },
  ]);
  const [reasoning, setReasoning] = useState<'full' | 'none'>('full');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<PlaygroundResult | null>(null);

  useEffect(() => {
    document.title = 'Playground · Arbiter';
  }, []);

  const options = versionOptions(policy, draft !== null);
  const chosen = options.find((option) => option.value === version && !option.disabled)
    ? version
    : (options.find((option) => !option.disabled)?.value ?? PUBLISHED);

  async function run() {
    if (running || !slug) return;
    setRunning(true);
    setError(null);
    try {
      const body = buildPlaygroundRequest({
        policy: slug,
        version: chosen,
        draftSource: loadDraft(slug)?.source ?? null,
        mode,
        text,
        messages,
        reasoning,
      });
      setResult(await policyApi.playground(body));
    } catch (caught) {
      setError(caught);
    } finally {
      setRunning(false);
    }
  }

  useShortcuts({ run: () => void run() });

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    void run();
  }

  const setMessage = (index: number, change: Partial<PlaygroundMessage>) =>
    setMessages((current) => current.map((message, i) => (i === index ? { ...message, ...change } : message)));

  return (
    <div className="stack">
      <div className="page__heading">
        <h1>Playground</h1>
        <p className="muted">Runs here are not stored: they never appear in decisions, review or training data.</p>
      </div>
      {policies.error !== null && <ErrorMessage title="Could not load the policies" error={policies.error} onRetry={policies.reload} />}
      {policies.loading && !policies.data && <Loading label="Loading policies…" />}
      {policies.data && policies.data.length === 0 && (
        <p className="muted">There is no policy to try yet.</p>
      )}
      {policies.data && policies.data.length > 0 && (
        <div className="playground">
          <form className="card form" onSubmit={onSubmit} aria-labelledby="playground-input-heading">
            <h2 id="playground-input-heading">Input</h2>
            <div className="form__row">
              <div className="form__field">
                <label htmlFor="playground-policy">Policy</label>
                <select
                  id="playground-policy"
                  value={slug}
                  onChange={(event) => setParams({ policy: event.target.value }, { replace: true })}
                >
                  {policies.data.map((p) => (
                    <option key={p.slug} value={p.slug}>
                      {p.title} ({p.slug})
                    </option>
                  ))}
                </select>
              </div>
              <div className="form__field">
                <label htmlFor="playground-version">Version</label>
                <select id="playground-version" value={chosen} onChange={(event) => setVersion(event.target.value)}>
                  {options.map((option) => (
                    <option key={option.value} value={option.value} disabled={option.disabled}>
                      {option.label}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            {chosen === DRAFT && (
              <p className="form__hint">
                Uses the draft kept in this browser; <Link to={`/policies/${slug}`}>edit it in the policy editor</Link>.
              </p>
            )}

            <fieldset className="radios">
              <legend>Content</legend>
              <label>
                <input type="radio" name="mode" checked={mode === 'text'} onChange={() => setMode('text')} /> A user prompt
              </label>
              <label>
                <input type="radio" name="mode" checked={mode === 'conversation'} onChange={() => setMode('conversation')} /> A
                conversation
              </label>
            </fieldset>

            {mode === 'text' ? (
              <div className="form__field">
                <label htmlFor="playground-text">Content to judge</label>
                <textarea
                  id="playground-text"
                  rows={6}
                  required
                  value={text}
                  onChange={(event) => setText(event.target.value)}
                  placeholder="Paste the content to judge"
                />
              </div>
            ) : (
              <div className="stack stack--tight">
                {messages.map((message, index) => (
                  <div key={index} className="message-row">
                    <div className="form__field">
                      <label htmlFor={`message-role-${index}`}>Message {index + 1} from</label>
                      <select
                        id={`message-role-${index}`}
                        value={message.role}
                        onChange={(event) => setMessage(index, { role: event.target.value as PlaygroundMessage['role'] })}
                      >
                        <option value="user">user</option>
                        <option value="assistant">assistant</option>
                        <option value="system">system</option>
                      </select>
                    </div>
                    <div className="form__field message-row__content">
                      <label htmlFor={`message-content-${index}`}>Message {index + 1} text</label>
                      <textarea
                        id={`message-content-${index}`}
                        rows={3}
                        required
                        value={message.content}
                        onChange={(event) => setMessage(index, { content: event.target.value })}
                      />
                    </div>
                    <button
                      type="button"
                      className="button button--secondary button--small"
                      onClick={() => setMessages((current) => current.filter((_, i) => i !== index))}
                      disabled={messages.length === 1}
                      aria-label={`Remove message ${index + 1}`}
                    >
                      Remove
                    </button>
                  </div>
                ))}
                <p>
                  <button
                    type="button"
                    className="button button--secondary button--small"
                    onClick={() => setMessages((current) => [...current, { role: current.at(-1)?.role === 'user' ? 'assistant' : 'user', content: '' }])}
                  >
                    Add message
                  </button>
                </p>
                <p className="form__hint">
                  The last message is judged: the user's prompt, or the assistant's response when the last message is the assistant's.
                </p>
              </div>
            )}

            <fieldset className="radios">
              <legend>Reasoning</legend>
              <label>
                <input type="radio" name="reasoning" checked={reasoning === 'full'} onChange={() => setReasoning('full')} /> Full
                reasoning
              </label>
              <label>
                <input type="radio" name="reasoning" checked={reasoning === 'none'} onChange={() => setReasoning('none')} /> Verdict
                only
              </label>
            </fieldset>

            <div className="form__actions">
              <button type="submit" className="button button--primary" disabled={running} data-testid="playground-run">
                {running ? 'Running…' : 'Run'}
              </button>
              <span className="form__hint">{SHORTCUT_LABELS.run} runs.</span>
            </div>
          </form>

          <section className="card" aria-labelledby="playground-result-heading" aria-busy={running}>
            <h2 id="playground-result-heading">Result</h2>
            {running && <Loading label="The guard is judging…" />}
            {error !== null && !running && <ErrorMessage title="The run failed" error={error} />}
            {!running && !result && error === null && <p className="muted">Run some content to see the guard's verdict and reasoning.</p>}
            {result && !running && <Result result={result} />}
          </section>
        </div>
      )}
    </div>
  );
}
