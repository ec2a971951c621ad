/**
 * A protocol violation by the peer: truncated or malformed packet, wrong sequence id, impossible state.
 * It closes that one connection (never the gateway) and is recorded with its message.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
