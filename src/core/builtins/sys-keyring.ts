import { z } from 'zod';
import type { Barrier } from '../barrier.ts';
import { op, type PathDef } from '../engine.ts';

const keyStatusWire = (s: { term: number; installTime: Date }) => ({
  term: s.term,
  install_time: s.installTime.toISOString(),
  encryptions: null,
});

/** sys/rotate adds a keyring term; sys/key-status reports the current one. */
export function sysKeyringPaths(deps: { barrier: Barrier }): PathDef[] {
  const rotate = op(z.object({}), async () => {
    await deps.barrier.rotate();
    return {};
  });
  return [
    { pattern: 'rotate', sudo: true, operations: { update: rotate } },
    { pattern: 'key-status', operations: { read: op(z.object({}), async () => ({ data: keyStatusWire(deps.barrier.keyStatus()) })) } },
  ];
}
