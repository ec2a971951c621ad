/** Who is behind a session. Fixed at login; the session may outlive the token that proved it. */
export type Via = 'oidc' | 'service_account';

export interface Identity {
  subject: string;
  groups: string[];
  via: Via;
  /** The OIDC issuer that signed the token (oidc only). */
  issuer?: string;
  /** When the token that opened the session expires (oidc only), ISO 8601. */
  tokenExpiresAt?: string;
}

/** A login refusal. `reason` is shown to the client after "Access denied for user '…'": never a secret. */
export class LoginRefused extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = 'LoginRefused';
    this.reason = reason;
  }
}
