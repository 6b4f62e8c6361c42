import { hmacSha256 } from '../../lib/crypto.ts';
import { AppError } from '../../lib/errors.ts';
import type { Barrier } from '../barrier/barrier.ts';
import { AUDIT_ENTRY_MAC } from './recorder.ts';

/**
 * The keyed MAC of an audit leaf. The key is the one derived while the barrier was last unsealed: the request that
 * seals the barrier (PUT sys/seal) is appended after the seal took effect, and must still be audited. The kept key
 * only MACs audit entries (it opens nothing); it is replaced at the next unseal.
 */
export function createAuditEntryMac(barrier: Pick<Barrier, 'isSealed' | 'deriveKey'>): { mac: (leaf: Buffer) => Buffer; keep: () => void } {
  let key: Buffer | null = null;
  const keep = (): void => {
    key = barrier.deriveKey(AUDIT_ENTRY_MAC);
  };
  return {
    /** Called at every unseal: from then on the key is at hand even once the barrier seals again. */
    keep,
    mac(leaf) {
      if (!barrier.isSealed()) keep();
      if (!key) throw new AppError('sealed', 'sealbox is sealed');
      return hmacSha256(key, leaf);
    },
  };
}
