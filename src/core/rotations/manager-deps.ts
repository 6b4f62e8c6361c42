/** What the rotation manager (rotations.ts) is given: storage, the barrier, time, targets and the optional services. */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Random } from '../../lib/random.ts';
import type { Db } from '../../storage/db.ts';
import type { RotationsStore, RotationStep } from '../../storage/rotations-store.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { Consumers } from '../consumers/consumers.ts';
import type { RotationTarget } from '../engine.ts';
import type { RowMac } from '../integrity/row-mac.ts';

export interface RotationManagerDeps {
  db: Db;
  store: RotationsStore;
  barrier: Barrier;
  clock: Clock;
  random: Random;
  log: Logger;
  replicaId: string;
  /** The engine's target for a rotation row (mount id + kind), or a core target (mount id null); null if gone. */
  targetFor(mountId: string | null, kind: string): RotationTarget | null;
  /** Publishes "rotation/finished" for the rotated path. */
  publish(e: { type: string; path: string }): Promise<void>;
  /**
   * Test-only crash points: names such as "rotation:after-set" at which the process kills itself with SIGKILL.
   * Set only from SEALBOX_TEST_FAILPOINTS (with SEALBOX_TEST_MODE=1); empty in production.
   */
  failpoints: ReadonlySet<string>;
  /** Records each finished or failed run in the audit log (scheduled runs are not requests). Absent: audit off. */
  audit?: (e: { id: string; runId: string; kind: 'scheduled' | 'manual'; status: 'ok' | 'failed'; step: RotationStep | null; error: string | null }) => Promise<void>;
  /** Counts finished and failed runs by the rotation's kind (sys/metrics). */
  observe?: (kind: string, result: 'ok' | 'failed') => void;
  rowMac: RowMac;
  /** The floor of every schedule set through the API (rotation_min_interval), seconds; 0: none. */
  minIntervalSeconds?: number;
  /** Consumers of rotated secrets (issue 20); absent: the retire step never waits. */
  consumers?: Consumers;
  /** The retire step's grace when a rotation sets none, seconds (0: no retirement). */
  defaultGraceSeconds?: number;
}
