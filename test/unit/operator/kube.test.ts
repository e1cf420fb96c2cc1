import { KubeApiError, errorMessage, retryOnConflict } from '../../../operator/kube.js';

const conflict = () => new KubeApiError(409, '{"kind":"Status","message":"the object has been modified"}');

describe('API errors', () => {
  test('a 409 Conflict is retried until the write goes through', async () => {
    let calls = 0;
    const r = await retryOnConflict(async () => {
      if (++calls < 3) throw conflict();
      return 'ok';
    });
    expect(r).toBe('ok');
    expect(calls).toBe(3);
  });

  test('other errors, and a conflict that persists, are not swallowed', async () => {
    await expect(retryOnConflict(async () => Promise.reject(new KubeApiError(422, '{}')))).rejects.toMatchObject({ code: 422 });
    let calls = 0;
    await expect(
      retryOnConflict(async () => {
        calls++;
        throw conflict();
      }, 2),
    ).rejects.toMatchObject({ code: 409 });
    expect(calls).toBe(2);
  });

  test('messages come from the API server Status when there is one', () => {
    expect(errorMessage(conflict())).toBe('the object has been modified');
    expect(errorMessage(new KubeApiError(500, 'plain text'))).toBe('HTTP 500: plain text');
    expect(errorMessage(new Error('boom'))).toBe('boom');
  });
});
