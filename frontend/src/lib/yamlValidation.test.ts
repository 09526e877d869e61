import { describe, expect, it } from 'vitest';

import { compilePolicySchema, markersFromServer, validatePolicySource } from './yamlValidation';

// The shape of the served policy schema, cut down to what these tests touch.
const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'categories'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,62}$', description: 'lower-case letters, digits and hyphens' },
    title: { type: 'string', minLength: 1 },
    categories: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['code', 'name', 'description'],
        properties: {
          code: { type: 'string', pattern: '^[A-Z][A-Z0-9]{0,7}$', description: 'an upper-case letter, then up to 7 more' },
          name: { type: 'string' },
          description: { type: 'string' },
        },
      },
    },
    tests: {
      type: 'array',
      items: { type: 'object', properties: { expect: { type: 'string', enum: ['safe', 'unsafe'] } } },
    },
  },
};

const VALID = `id: core-safety
title: Core safety
categories:
  - code: S1
    name: Violence
    description: Violent crimes.
tests:
  - {expect: safe}
`;

const validate = compilePolicySchema(SCHEMA);

function lineText(source: string, line: number): string {
  return source.split('\n')[line - 1];
}

describe('validatePolicySource', () => {
  it('finds nothing wrong with a valid policy', () => {
    expect(validatePolicySource(VALID, validate)).toEqual([]);
  });

  it('puts a bad category code on its own line, underlining the value', () => {
    const source = VALID.replace('code: S1', 'code: s1');
    const [marker] = validatePolicySource(source, validate);
    expect(marker.line).toBe(4);
    expect(marker.path).toBe('categories[0].code');
    expect(source.slice(marker.from, marker.to)).toBe('s1');
    expect(marker.message).toContain('upper-case letter');
  });

  it('marks an unknown key at the key itself', () => {
    const source = VALID.replace('    name: Violence\n', '    name: Violence\n    colour: red\n');
    const [marker] = validatePolicySource(source, validate);
    expect(lineText(source, marker.line)).toBe('    colour: red');
    expect(source.slice(marker.from, marker.to)).toBe('colour');
    expect(marker.message).toContain("unknown key 'colour'");
  });

  it('marks a missing required key on the mapping that lacks it', () => {
    const source = VALID.replace('    description: Violent crimes.\n', '');
    const markers = validatePolicySource(source, validate);
    expect(markers).toHaveLength(1);
    expect(markers[0].line).toBe(4);
    expect(markers[0].message).toContain("missing required key 'description'");
  });

  it('names the allowed values of an enum', () => {
    const source = VALID.replace('{expect: safe}', '{expect: maybe}');
    const [marker] = validatePolicySource(source, validate);
    expect(marker.line).toBe(8);
    expect(marker.message).toBe('tests[0].expect: must be one of safe, unsafe');
  });

  it('reports YAML syntax errors with their line and skips the schema', () => {
    const source = VALID.replace('title: Core safety', 'title: [unclosed');
    const markers = validatePolicySource(source, validate);
    expect(markers.length).toBeGreaterThan(0);
    expect(markers.every((marker) => marker.origin === 'yaml')).toBe(true);
    expect(markers[0].line).toBeGreaterThanOrEqual(2);
  });

  it('reports a duplicate key', () => {
    const source = VALID.replace('title: Core safety\n', 'title: Core safety\ntitle: Again\n');
    const [marker] = validatePolicySource(source, validate);
    expect(marker.origin).toBe('yaml');
    expect(lineText(source, marker.line)).toBe('title: Again');
  });

  it('checks only the syntax when there is no schema', () => {
    expect(validatePolicySource(VALID.replace('S1', 's1'), null)).toEqual([]);
  });
});

describe('markersFromServer', () => {
  it('puts each server error on the line it names, spanning that line', () => {
    const [marker] = markersFromServer(VALID, [{ line: 4, path: 'categories[0].code', message: 'duplicate code' }]);
    expect(marker).toMatchObject({ line: 4, path: 'categories[0].code', origin: 'server' });
    expect(VALID.slice(marker.from, marker.to)).toBe('  - code: S1');
  });

  it('puts an error without a line, or past the end, on a line that exists', () => {
    const markers = markersFromServer('a: 1\n', [{ message: 'too large' }, { line: 99, message: 'far away' }]);
    expect(markers.map((marker) => marker.line)).toEqual([1, 2]);
  });
});
