import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DecisionError } from '../gateway/approvals.ts';
import type { Logger } from '../log.ts';

/**
 * Every error the HTTP API answers with. The body is always `{"error": {"code", "message"}}`; the code is stable
 * for scripts, the message is for people and never holds a stack, a secret or a driver's internals.
 */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  AUDIT_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class HttpError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.status = API_ERRORS[code];
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError('BAD_REQUEST', message);
}

export function notFound(message: string): HttpError {
  return new HttpError('NOT_FOUND', message);
}

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string };
}

function body(code: ApiErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

const DECISION_CODES: Record<DecisionError['status'], ApiErrorCode> = { 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT' };

/**
 * The one place errors become HTTP answers: our own `HttpError`s, the approval service's refusals, Fastify's own
 * client errors (malformed JSON, wrong content type, body too large), and anything else as a 500 whose cause goes
 * to the log only.
 */
export function toErrorAnswer(err: unknown, log: Logger, store: { healthy: boolean }): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.status, body: body(err.code, err.message) };
  if (err instanceof DecisionError) return { status: err.status, body: body(DECISION_CODES[err.status], err.message) };
  const fe = err as Partial<FastifyError>;
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code: ApiErrorCode = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
    // Fastify's client-error messages describe the request, not the server ("Body is not valid JSON…").
    return { status: code === 'BAD_REQUEST' ? 400 : status, body: body(code, String(fe.message ?? 'bad request')) };
  }
  log.error('API request failed', { error: err instanceof Error ? err.message : String(err) });
  let healthy = true;
  try {
    healthy = store.healthy;
  } catch {
    healthy = false;
  }
  if (!healthy) return { status: 503, body: body('AUDIT_UNAVAILABLE', 'the audit store is unavailable') };
  return { status: 500, body: body('INTERNAL', 'internal error (see the gateway log)') };
}

/** Installs the error mapper and the JSON 404 on an app. */
export function installErrorMapper(app: FastifyInstance, log: Logger, store: { healthy: boolean }): void {
  app.setErrorHandler((err: unknown, _req: FastifyRequest, reply: FastifyReply) => {
    let a: { status: number; body: ErrorBody };
    try {
      a = toErrorAnswer(err, log, store);
    } catch {
      // Fastify's fallback would answer with the original message: never let it.
      a = { status: 500, body: body('INTERNAL', 'internal error (see the gateway log)') };
    }
    void reply.code(a.status).type('application/json; charset=utf-8').send(a.body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '';
    void reply.code(404).send(body('NOT_FOUND', `no route ${req.method} ${path}`));
  });
}
