import type { PolicyVersion } from './policyApi';

/** The `<option>`s of a version picker: one per saved version ("v3"), valued by its number. */
export function VersionOptions({ versions }: { versions: readonly PolicyVersion[] }) {
  return (
    <>
      {versions.map((v) => (
        <option key={v.number} value={v.number}>
          v{v.number}
        </option>
      ))}
    </>
  );
}
