import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keyId, privateKeyFromPem } from './chain.ts';
import type { AuditStoreOptions } from './types.ts';

export interface ResolvedOptions {
  instanceId: string;
  key: KeyObject;
  keyId: string;
  publicPem: string;
  fsync: boolean;
  checkpointEvery: number;
  checkpointInterval: number;
  captureRows: number;
  busyTimeout: number;
  maxPendingBytes: number;
}

export function resolveOptions(o: AuditStoreOptions): ResolvedOptions {
  if (typeof o.instanceId !== 'string' || !o.instanceId) throw new TypeError('audit store: instanceId is required');
  // Without a configured key the store still works, but its signatures cannot be checked after a restart by anyone
  // who did not keep the public key (it is registered in the database either way).
  const key = o.signingKeyPem ? privateKeyFromPem(o.signingKeyPem) : generateKeyPairSync('ed25519').privateKey;
  const pub = createPublicKey(key);
  const positive = (v: number | undefined, d: number, name: string) => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v <= 0) throw new TypeError(`audit store: ${name} must be a positive number`);
    return v;
  };
  return {
    instanceId: o.instanceId,
    key,
    keyId: keyId(pub),
    publicPem: pub.export({ format: 'pem', type: 'spki' }).toString(),
    fsync: o.fsync ?? false,
    checkpointEvery: Math.floor(positive(o.checkpointEvery, 1000, 'checkpointEvery')),
    checkpointInterval: positive(o.checkpointInterval, 60_000, 'checkpointInterval'),
    captureRows: o.captureRows === undefined ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.floor(o.captureRows)),
    busyTimeout: positive(o.busyTimeout, 2000, 'busyTimeout'),
    maxPendingBytes: positive(o.maxPendingBytes, 16 * 1024 * 1024, 'maxPendingBytes'),
  };
}

/** A listing limit: the default when absent or not a positive number, at most 10,000. */
export function limitOf(v: number | undefined, d: number): number {
  if (v === undefined || !Number.isFinite(v) || v < 1) return d;
  return Math.min(Math.floor(v), 10_000);
}
