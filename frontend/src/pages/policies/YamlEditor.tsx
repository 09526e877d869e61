import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorState, StateEffect } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { basicSetup } from 'codemirror';
import { useEffect, useRef } from 'react';

import type { Marker } from '../../lib/yamlValidation';

/** Asks the linter to check again although the text did not change (new server errors, a loaded schema). */
const recheck = StateEffect.define<null>();

export function toDiagnostics(markers: readonly Marker[], length: number): Diagnostic[] {
  return markers.map((marker) => {
    const from = Math.min(marker.from, length);
    return {
      from,
      to: Math.min(Math.max(marker.to, from), length),
      severity: 'error',
      source: marker.origin === 'server' ? 'server' : 'schema',
      message: marker.path && !marker.message.startsWith(marker.path) ? `${marker.path}: ${marker.message}` : marker.message,
    };
  });
}

/**
 * CodeMirror 6 with YAML highlighting. `check` runs as you type (and again whenever `checkKey`
 * changes, e.g. when the server's errors arrive); its markers underline the text and mark the gutter.
 */
export function YamlEditor({
  value,
  onChange,
  check,
  checkKey,
  onSave,
  label,
  describedBy,
  readOnly = false,
}: {
  value: string;
  onChange?: (value: string) => void;
  check?: (source: string) => Marker[];
  checkKey?: unknown;
  onSave?: () => void;
  label: string;
  describedBy?: string;
  readOnly?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const callbacks = useRef({ onChange, check, onSave });
  useEffect(() => {
    callbacks.current = { onChange, check, onSave };
  });

  useEffect(() => {
    if (!host.current) return;
    const attributes: Record<string, string> = { 'aria-label': label };
    if (describedBy) attributes['aria-describedby'] = describedBy;
    const created = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          keymap.of([
            {
              key: 'Mod-s',
              preventDefault: true,
              run: () => {
                callbacks.current.onSave?.();
                return true;
              },
            },
          ]),
          basicSetup,
          yaml(),
          lintGutter(),
          linter((editor) => toDiagnostics(callbacks.current.check?.(editor.state.doc.toString()) ?? [], editor.state.doc.length), {
            delay: 250,
            needsRefresh: (update) => update.transactions.some((tr) => tr.effects.some((effect) => effect.is(recheck))),
          }),
          EditorView.contentAttributes.of(attributes),
          EditorState.readOnly.of(readOnly),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) callbacks.current.onChange?.(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
    // The view is built once; later props reach it through `callbacks` and the effects below.
  }, []);

  useEffect(() => {
    const current = view.current;
    if (current && current.state.doc.toString() !== value) {
      current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: value } });
    }
  }, [value]);

  useEffect(() => {
    view.current?.dispatch({ effects: recheck.of(null) });
  }, [checkKey]);

  return <div ref={host} className="code-editor" data-testid="yaml-editor" />;
}
