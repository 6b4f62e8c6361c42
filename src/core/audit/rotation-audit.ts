/** Scheduled rotation runs are not requests: each run is an audit entry of its own, as if `POST sys/rotations/<id>/run`. */
import type { Clock } from '../../lib/clock.ts';
import { AppError } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';
import type { RotationManagerDeps } from '../rotations/rotations.ts';
import type { AuditRecorder } from './recorder.ts';

export function rotationAuditor(deps: { recorder: AuditRecorder; clock: Clock; random: Random }): NonNullable<RotationManagerDeps['audit']> {
  const { recorder, clock, random } = deps;
  return async (e) => {
    const path = `sys/rotations/${e.id}/run`;
    const hmac = recorder.begin(path);
    if (!hmac) return;
    await recorder.record(
      {
        time: clock.now(),
        requestId: random.uuid(),
        operation: 'update',
        path,
        remoteAddress: `rotation:${e.kind}`,
        rawInput: {},
        mount: null,
        token: null,
        response: e.status === 'ok' ? { data: { status: 'ok', run_id: e.runId } } : null,
        error: e.status === 'ok' ? null : new AppError('unavailable', `rotation failed at step ${e.step ?? '?'}: ${e.error ?? ''}`),
      },
      hmac,
    );
  };
}
