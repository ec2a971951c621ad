import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/types.ts';
import type { AuditStore } from '../audit/types.ts';
import type { IdentityVerifier } from '../identity/index.ts';
import type { PolicyEngine } from '../policy/types.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../gateway/metrics.ts';
import type { ApprovalService } from '../gateway/approvals.ts';
import { adminJwtCheck, bearerAuth } from './auth.ts';
import { installErrorMapper } from './errors.ts';
import { sessionRoutes } from './sessions.ts';
import { approvalRoutes } from './approvals.ts';
import { auditRoutes } from './audit.ts';
import { consoleApiRoutes, consoleRoutes, type ConsoleOptions } from './console.ts';

/** What the HTTP API serves from. */
export interface ApiDeps {
  config: Config;
  store: AuditStore;
  identity: IdentityVerifier;
  policy: PolicyEngine;
  approvals: ApprovalService;
  metrics: Metrics;
  log: Logger;
  health(): { ok: boolean; stopping: boolean; auditHealthy: boolean };
}

export interface ApiOptions {
  /** Milliseconds between heartbeat comments on GET /api/approvals/stream. Default 15 s. */
  heartbeatMs?: number;
  /** Where the built console is (default console/dist). */
  console?: Pick<ConsoleOptions, 'distDir' | 'fetch'>;
}

export interface ApiServer {
  app: FastifyInstance;
  listen(at: { host: string; port: number }): Promise<void>;
  close(): Promise<void>;
  /** The real port (when configured as 0). */
  port(): number;
}

/**
 * The Fastify app: health and metrics (no auth), then the /api routes, one plugin per resource inside a context
 * whose bearer-auth hook covers them all and nothing else.
 */
export async function buildApp(deps: ApiDeps, opts: ApiOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    // Long-lived event streams must not hold a shutdown up; idle keep-alive sockets are closed at once.
    forceCloseConnections: 'idle',
  });
  installErrorMapper(app, deps.log, deps.store);
  app.get('/healthz', async (_req, reply) => {
    const h = deps.health();
    reply.code(h.ok ? 200 : 503);
    return { ok: h.ok, audit: h.auditHealthy ? 'ok' : 'unavailable', stopping: h.stopping };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.text();
  });
  // Admins may also sign in with an ID token of api.oidc (the console's OIDC sign-in): one checker, one key cache.
  const jwtAdmin = deps.config.api.oidc ? adminJwtCheck(deps.config.api.oidc) : undefined;
  await app.register(consoleRoutes(deps, { ...opts.console, ...(jwtAdmin ? { jwtAdmin } : {}) }));
  await app.register(async (api) => {
    bearerAuth(api, deps.identity, jwtAdmin);
    // Bodies are JSON: a text body is refused (415) rather than read as a string.
    api.removeContentTypeParser('text/plain');
    // Answers carry audit data: never cached by a browser or a proxy.
    api.addHook('onSend', async (_req, reply, payload) => {
      reply.header('cache-control', 'no-store');
      return payload;
    });
    await api.register(sessionRoutes(deps));
    await api.register(approvalRoutes(deps, { heartbeatMs: opts.heartbeatMs }));
    await api.register(auditRoutes(deps));
    await api.register(consoleApiRoutes(deps));
  }, { prefix: '/api' });
  return app;
}

export async function buildApi(deps: ApiDeps, opts: ApiOptions = {}): Promise<ApiServer> {
  const app = await buildApp(deps, opts);
  return {
    app,
    async listen(at) {
      await app.listen({ host: at.host, port: at.port });
    },
    async close() {
      await app.close();
    },
    port() {
      const a = app.server.address();
      return a && typeof a === 'object' ? a.port : 0;
    },
  };
}
