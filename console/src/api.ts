// The one way the console talks to the gateway: same-origin fetches with the admin's bearer token, errors turned
// into ApiError with the API's code and message.

const TOKEN_KEY = 'agentgate.token';

/** The token lives in sessionStorage: gone when the tab closes, never in a URL, never in localStorage. */
export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type Listener = (reason: string) => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when the API says the token is no longer good (expired ID token, token removed from the config). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, code, message);
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  signal?: AbortSignal;
  /** Use this token rather than the stored one (checking a token at sign-in). */
  token?: string | null;
  /** Do not sign out on a 401 (the sign-in check itself). */
  quiet401?: boolean;
}

export function authHeaders(token: string | null = storedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(opts.token === undefined ? storedToken() : opts.token) };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method: opts.method ?? 'GET', headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'the gateway cannot be reached');
  }
  if (!res.ok) {
    const e = await errorOf(res);
    if (res.status === 401 && !opts.quiet401) for (const fn of unauthorizedListeners) fn(e.message);
    throw e;
  }
  return (await res.json()) as T;
}

/** `?a=1&b=2` from the defined, non-empty entries. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface StreamHandlers {
  onOpen(): void;
  onEvent(name: string, data: string): void;
}

/**
 * Reads a Server-Sent Events stream with fetch, so the Authorization header goes with it (EventSource cannot send
 * one). Resolves when the stream ends; rejects on an HTTP error or a network failure.
 */
export async function readEventStream(path: string, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal, cache: 'no-store' });
  if (!res.ok || !res.body) {
    const e = await errorOf(res);
    if (res.status === 401) for (const fn of unauthorizedListeners) fn(e.message);
    throw e;
  }
  handlers.onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    // Events end with a blank line; lines end with LF, CRLF or CR.
    buf = buf.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') name = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length) handlers.onEvent(name, data.join('\n'));
    }
  }
}
