/**
 * The one HTTP client of the UI. Every call carries `X-Requested-With: XMLHttpRequest` and, once known, the
 * session's CSRF token (`GET /csrf_token`, replaced by `X-Next-CSRF-Token` when the server rotates it).
 * Errors become ApiError with Quay's `error_message`/`detail` text. A 401 `fresh_login_required` waits for
 * the password prompt (FreshLoginModal) and replays the call once.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let csrfLoading: Promise<void> | null = null;

async function loadCsrf(): Promise<void> {
  const res = await fetch('/csrf_token', { credentials: 'same-origin', headers: { 'X-Requested-With': 'XMLHttpRequest' } });
  if (res.ok) csrfToken = ((await res.json()) as { csrf_token: string | null }).csrf_token;
}

/** Forget the token (sign-in and sign-out change the session). */
export function resetCsrf(): void {
  csrfToken = null;
  csrfLoading = null;
}

type FreshLoginHandler = () => Promise<boolean>;
let freshLoginHandler: FreshLoginHandler | null = null;
/** The shell registers the password prompt here. */
export function onFreshLoginRequired(handler: FreshLoginHandler | null): void {
  freshLoginHandler = handler;
}

function errorText(status: number, body: unknown): string {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const k of ['error_message', 'detail', 'message', 'error_description', 'error']) {
      if (typeof b[k] === 'string' && b[k]) return b[k] as string;
    }
  }
  if (typeof body === 'string' && body) return body;
  return `Request failed with status ${status}`;
}

export interface RequestOptions {
  body?: unknown;
  /** Bytes sent as they are (a build pack upload), with their content type. */
  raw?: Blob;
  contentType?: string;
  /** Do not show the fresh-login prompt on 401 (the prompt's own call). */
  noFreshLogin?: boolean;
}

export async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const mutating = method !== 'GET' && method !== 'HEAD';
  if (mutating && csrfToken === null) {
    csrfLoading ??= loadCsrf();
    await csrfLoading;
  }
  const headers: Record<string, string> = { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' };
  if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (opts.raw !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
  else if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const next = res.headers.get('X-Next-CSRF-Token');
  if (next) csrfToken = next;
  const text = await res.text();
  let body: unknown = text;
  if (text && (res.headers.get('content-type') ?? '').includes('json')) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.ok) return (text ? body : null) as T;
  const kind = body && typeof body === 'object' ? ((body as Record<string, unknown>).error_type ?? (body as Record<string, unknown>).title) : undefined;
  if (res.status === 401 && kind === 'fresh_login_required' && !opts.noFreshLogin && freshLoginHandler) {
    if (await freshLoginHandler()) return request<T>(method, path, { ...opts, noFreshLogin: true });
  }
  throw new ApiError(res.status, errorText(res.status, body), body);
}

export const api = {
  get: <T = unknown>(path: string) => request<T>('GET', `/api/v1${path}`),
  post: <T = unknown>(path: string, body?: unknown) => request<T>('POST', `/api/v1${path}`, { body: body ?? {} }),
  put: <T = unknown>(path: string, body?: unknown) => request<T>('PUT', `/api/v1${path}`, { body: body ?? {} }),
  del: <T = unknown>(path: string) => request<T>('DELETE', `/api/v1${path}`),
};

/** Path segment escaping for names that may contain `/` (nested repositories keep their slashes). */
export const enc = (s: string) => encodeURIComponent(s);
export const repoPath = (ns: string, repo: string) => `/repository/${enc(ns)}/${repo.split('/').map(enc).join('/')}`;
