import type { ValidateFunction } from 'ajv/dist/2020';
import { useEffect, useState } from 'react';

import { compilePolicySchema } from '../../lib/yamlValidation';
import { policyApi } from './policyApi';

let cached: Promise<ValidateFunction | null> | null = null;

/** The served JSON Schema, compiled once per page load; a failed fetch is retried on the next use. */
export function usePolicySchema(): { validate: ValidateFunction | null; error: unknown } {
  const [state, setState] = useState<{ validate: ValidateFunction | null; error: unknown }>({ validate: null, error: null });
  useEffect(() => {
    let cancelled = false;
    cached ??= policyApi.schema().then(compilePolicySchema);
    cached.then(
      (validate) => {
        if (!cancelled) setState({ validate, error: null });
      },
      (error: unknown) => {
        cached = null;
        if (!cancelled) setState({ validate: null, error });
      },
    );
    return () => {
      cancelled = true;
    };
  }, []);
  return state;
}
