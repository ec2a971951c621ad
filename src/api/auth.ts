import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type { ApiOidcConfig } from '../config/types.ts';
import { DEFAULTS } from '../config/validate.ts';
import { JwtVerifier, LoginRefused, looksLikeJwt, type IdentityVerifier, type JwtVerifierOptions } from '../identity/index.ts';
import { HttpError } from './errors.ts';

/** The admin behind a request: the decider of approvals. */
export interface Admin {
  name: string;
  groups: string[];
}

const admins = new WeakMap<FastifyRequest, Admin>();

/** The admin the bearer hook found for this request (every /api route runs after it). */
export function adminOf(req: FastifyRequest): Admin {
  const a = admins.get(req);
  if (!a) throw new HttpError('UNAUTHORIZED', 'no admin token was checked for this request');
  return a;
}

/** An ID token of `api.oidc` checked as an admin's bearer: the admin, or why not. */
export type AdminJwtCheck = (token: string) => Promise<Admin | { problem: string }>;

/**
 * Checks ID tokens of the console's issuer (`api.oidc`): signature, issuer, audience (the client id), validity,
 * then membership of `adminGroups`. The admin's name comes from `nameClaim`, groups from `groupsClaim`.
 */
export function adminJwtCheck(cfg: ApiOidcConfig, opts: JwtVerifierOptions = {}): AdminJwtCheck {
  const verifier = new JwtVerifier([{
    issuer: cfg.issuer,
    audience: [cfg.clientId],
    groupsClaim: cfg.groupsClaim,
    algorithms: [...DEFAULTS.algorithms],
    clockTolerance: DEFAULTS.clockTolerance,
    ...(cfg.jwksUri ? { jwksUri: cfg.jwksUri } : {}),
  }], opts);
  return async (token) => {
    let t: Awaited<ReturnType<JwtVerifier['verify']>>;
    try {
      t = await verifier.verify(token);
    } catch (err) {
      if (err instanceof LoginRefused) return { problem: `the ID token is not accepted: ${err.reason}` };
      throw err;
    }
    // The signature covers these bytes (checked just above): reading the name claim from them is safe.
    const claim = decodeJwt(token)[cfg.nameClaim];
    const name = cfg.nameClaim === 'sub' ? t.subject : typeof claim === 'string' && claim !== '' ? claim : null;
    if (name === null) return { problem: `the ID token has no "${cfg.nameClaim}" claim (api.oidc.nameClaim) to name the admin` };
    if (!t.groups.some((g) => cfg.adminGroups.includes(g))) return { problem: `${name} is not in an admin group of api.oidc.adminGroups` };
    return { name, groups: t.groups };
  };
}

/**
 * `Authorization: Bearer <token>` on every route of the context it is added to (the /api plugin). Tokens are
 * compared by the identity module in constant time; a failure says what is wrong with the header, never which
 * tokens exist. With `api.oidc` configured, an ID token of that issuer is accepted for a member of its admin groups.
 */
export function bearerAuth(app: FastifyInstance, identity: IdentityVerifier, jwtAdmin?: AdminJwtCheck): void {
  app.addHook('onRequest', async (req, reply) => {
    const h = req.headers.authorization;
    let problem: string | null = null;
    let admin: Admin | null = null;
    if (!h) problem = 'an admin token is needed: Authorization: Bearer <token>';
    else {
      const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
      if (!m) problem = 'the Authorization header must be "Bearer <token>"';
      else {
        admin = identity.verifyAdminToken(m[1]!);
        if (!admin && jwtAdmin && looksLikeJwt(m[1]!)) {
          const r = await jwtAdmin(m[1]!);
          if ('problem' in r) problem = r.problem;
          else admin = r;
        }
        if (!admin && !problem) problem = 'the admin token is not valid';
      }
    }
    if (problem || !admin) {
      reply.header('www-authenticate', 'Bearer realm="agentgate"');
      throw new HttpError('UNAUTHORIZED', problem ?? 'the admin token is not valid');
    }
    admins.set(req, admin);
  });
}
