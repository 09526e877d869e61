/**
 * Checks a policy's YAML as it is typed: YAML syntax first, then the JSON Schema the server serves
 * (`GET /api/v1/policies/schema/`). Every problem becomes a marker with the source range it is about,
 * so the editor can underline it and put a sign on its line. The server's own errors (which also
 * check meaning, such as unique codes) name a line; `markersFromServer` turns those into markers too.
 */
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';

export interface Marker {
  /** Character offsets into the source. */
  from: number;
  to: number;
  /** 1-based line of `from`. */
  line: number;
  message: string;
  /** Where in the document, as the server writes it: `categories[0].code`; empty for the whole document. */
  path: string;
  origin: 'yaml' | 'schema' | 'server';
}

export interface ServerError {
  line?: number;
  path?: string;
  field?: string;
  message: string;
}

type Segment = string | number;

/** Compiles the served schema once; null when it cannot be compiled (then only YAML syntax is checked). */
export function compilePolicySchema(schema: unknown): ValidateFunction | null {
  try {
    const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
    return ajv.compile(schema as object);
  } catch {
    return null;
  }
}

export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const segment of segments) {
    out += typeof segment === 'number' ? `[${segment}]` : out ? `.${segment}` : segment;
  }
  return out;
}

function pointerSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Follows `segments` through the YAML tree; returns the deepest node reached and the typed path to it. */
function locate(root: unknown, segments: readonly string[]): { node: Node | null; path: Segment[] } {
  let node: unknown = root;
  const path: Segment[] = [];
  for (const segment of segments) {
    if (isSeq(node)) {
      const index = Number(segment);
      const next = node.items[index];
      if (!isNode(next)) break;
      node = next;
      path.push(index);
    } else if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === segment);
      if (!pair || !isNode(pair.value)) break;
      node = pair.value;
      path.push(segment);
    } else {
      break;
    }
  }
  return { node: isNode(node) ? node : null, path };
}

function keyNode(map: Node | null, key: string): Node | null {
  if (!isMap(map)) return null;
  const pair = map.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === key);
  return pair && isNode(pair.key) ? pair.key : null;
}

function lineEnd(source: string, offset: number): number {
  const end = source.indexOf('\n', offset);
  return end === -1 ? source.length : end;
}

/** A node's range, cut at the end of its first line so a long mapping underlines one line only. */
function rangeOf(node: Node | null, source: string): { from: number; to: number } {
  const [start, end] = node?.range ?? [0, 0];
  const to = Math.min(Math.max(end, start + 1), lineEnd(source, start), source.length);
  return { from: start, to: Math.max(to, start) };
}

function describeSchemaError(error: ErrorObject, label: string): string {
  const where = label || 'the policy';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${where}: missing required key '${String(params.missingProperty)}'`;
    case 'additionalProperties':
      return `${where}: unknown key '${String(params.additionalProperty)}'`;
    case 'enum':
      return `${label}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern': {
      const description = (error.parentSchema as { description?: unknown } | undefined)?.description;
      return typeof description === 'string' ? `${label}: ${description}` : `${label} ${error.message ?? ''}`;
    }
    default:
      return `${where} ${error.message ?? 'is invalid'}`;
  }
}

function schemaMarker(error: ErrorObject, root: unknown, source: string, lines: LineCounter): Marker {
  const { node, path } = locate(root, pointerSegments(error.instancePath));
  const params = error.params as Record<string, unknown>;
  let target = node;
  let markerPath = path;
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    target = keyNode(node, params.additionalProperty) ?? node;
    markerPath = [...path, params.additionalProperty];
  }
  const { from, to } = rangeOf(target, source);
  return {
    from,
    to,
    line: lines.linePos(from).line,
    message: describeSchemaError(error, formatPath(path)),
    path: formatPath(markerPath),
    origin: 'schema',
  };
}

/** Every problem in `source`: YAML syntax errors, or else the schema's (with `validate`). */
export function validatePolicySource(source: string, validate: ValidateFunction | null): Marker[] {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return doc.errors.map((error) => {
      const from = Math.min(error.pos[0], source.length);
      const to = Math.min(Math.max(error.pos[1], from + 1), lineEnd(source, from));
      const message = error.message.split('\n')[0];
      return { from, to: Math.max(to, from), line: lines.linePos(from).line, message, path: '', origin: 'yaml' };
    });
  }
  if (!validate) return [];
  const data: unknown = doc.toJS();
  if (validate(data)) return [];
  return (validate.errors ?? []).map((error) => schemaMarker(error, doc.contents, source, lines));
}

/** The server's errors as markers; one without a line goes on the first line. */
export function markersFromServer(source: string, errors: readonly ServerError[]): Marker[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') starts.push(i + 1);
  return errors.map((error) => {
    const line = Math.min(Math.max(error.line ?? 1, 1), starts.length);
    const from = starts[line - 1];
    const path = error.path ?? error.field ?? '';
    return { from, to: lineEnd(source, from), line, message: error.message, path, origin: 'server' };
  });
}
