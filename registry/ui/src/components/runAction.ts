/** Kept apart from ListWithActions so the shell can use it without loading the table code. */
import { useInvalidate } from '../api/hooks';
import { errorMessage, useAlert } from './alerts';

/** Runs one API call for the user: toast the outcome, then reload the named queries either way. */
export function useRunAction(invalidates: unknown[][]) {
  const invalidate = useInvalidate();
  const alert = useAlert();
  return async (done: string, fn: () => Promise<unknown>): Promise<boolean> => {
    let ok = true;
    try {
      await fn();
      alert('success', done);
    } catch (e) {
      ok = false;
      alert('danger', errorMessage(e));
    }
    await invalidate(...invalidates);
    return ok;
  };
}
