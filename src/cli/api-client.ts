import { CliError, failed, usage } from './errors.ts';
import { apiListenOf, urlOf } from './config.ts';

/** Options every command that talks to a running gateway takes. */
export interface ApiOptions {
  api?: string;
  token?: string;
  config?: string;
}

/** `{"error": {"code", "message"}}` from the API, as an exit-1 failure naming the status and the code. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(`${message} (HTTP ${status} ${code})`, 1);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** A small client of the gateway's HTTP API (docs/api.md). */
export class ApiClient {
  readonly base: string;
  private readonly token: string;

  constructor(base: string, token: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token;
  }

  /** The client for a command's `--api`, `--token` and `--config` (see the option help for the defaults). */
  static from(o: ApiOptions, env: NodeJS.ProcessEnv = process.env): ApiClient {
    let base = o.api;
    if (base === undefined) {
      if (!o.config) throw usage('where is the gateway? pass --api URL, or --config FILE to use its api.listen');
      base = urlOf(apiListenOf(o.config));
    }
    let u: URL;
    try {
      u = new URL(base);
    } catch {
      throw usage(`--api: ${JSON.stringify(base)} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usage(`--api: ${JSON.stringify(base)} must be an http:// or https:// URL`);
    const token = o.token ?? env.AGENTGATE_TOKEN;
    if (!token) throw usage('an admin token is needed: pass --token TOKEN or set AGENTGATE_TOKEN');
    return new ApiClient(u.toString(), token);
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(120_000) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw failed(`cannot reach the agentgate API at ${this.base}: ${why}`);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let code = 'HTTP_ERROR';
      let message = text.slice(0, 500) || res.statusText;
      try {
        const j = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (j.error?.message) {
          code = j.error.code ?? code;
          message = j.error.message;
        }
      } catch {
        // Not our JSON (a proxy's page): the text is the best we have.
      }
      throw new ApiError(res.status, code, message);
    }
    return res;
  }

  async get<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, String(v));
    const s = qs.toString();
    const res = await this.request('GET', s ? `${path}?${s}` : path);
    return (await res.json()) as T;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await this.request('POST', path, body);
    return (await res.json()) as T;
  }

  /** A response body as it arrives (the session export). */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.request('GET', path);
    if (!res.body) throw failed(`the API sent no body for ${path}`);
    return res.body;
  }
}

export const seg = encodeURIComponent;
