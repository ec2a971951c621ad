import type { Approval } from '../audit/types.ts';

/**
 * What a session asks of the approval service when a rule says `approve`: the fields of the Approval it becomes,
 * and the rule's reason for asking.
 */
export type ApprovalRequest = Pick<Approval, 'sessionId' | 'target' | 'identity' | 'sql' | 'params' | 'kinds' | 'fingerprint' | 'policy' | 'rule' | 'minApprovals' | 'estimatedRows'> & {
  reason: string;
};

export interface ApprovalGate {
  /**
   * Hold mode: raises the request and waits until it is decided or times out. `keepAlive` runs every few seconds
   * while waiting (pings the upstream so neither side's idle timeout closes the session); `cancelled` is checked to
   * stop waiting when the client goes away.
   */
  hold(req: ApprovalRequest, opts: { keepAlive: () => Promise<void>; cancelled: () => boolean }): Promise<Approval>;
  /**
   * Retry mode: when an approved, unused approval exists for this identity and the identical statement (same
   * fingerprint and parameters), it is consumed and `run` is true; otherwise a pending request is raised (or the
   * existing pending one returned) and the statement is refused with its id.
   */
  retry(req: ApprovalRequest): Promise<{ run: boolean; approval: Approval }>;
}
