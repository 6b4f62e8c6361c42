// ava's configuration (in a file rather than package.json for `sortTestFiles`, which is a function).
//
// Test files run four at a time, each in its own process, TypeScript loaded by scripts/ts-loader.mjs. The suite is
// CPU-bound at four, so a long file that starts last leaves the other workers idle at the end: the files that take
// longest (wall time, measured: most wait on real processes and real time) start first, the rest in name order.
const LONGEST_FIRST = [
  'test/rotation-no-lockout.test.ts',
  'agent/test/leases.test.ts',
  'test/keyring-rotation.test.ts',
  'test/consumers-retire.test.ts',
  'test/shared-credentials.test.ts',
  'agent/test/outage.test.ts',
  'test/console.test.ts',
  'test/ha-partition.test.ts',
  'test/rotation-db.test.ts',
  'test/ha-failover.test.ts',
  'test/unauthenticated-bodies.test.ts',
  'test/untrusted-storage-rows.test.ts',
  'test/at-rest.test.ts',
  'test/tls-pki.test.ts',
  'test/signals.test.ts',
  'test/scheduler.test.ts',
];

const rank = (file) => {
  const i = LONGEST_FIRST.findIndex((f) => file.endsWith(`/${f}`));
  return i < 0 ? LONGEST_FIRST.length : i;
};

export default {
  files: ['test/**/*.test.ts', 'agent/test/**/*.test.ts', 'src/**/*.test.ts', 'agent/src/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=./scripts/ts-loader.mjs'],
  workerThreads: false,
  timeout: '120s',
  concurrency: 4,
  sortTestFiles: (a, b) => rank(a) - rank(b) || a.localeCompare(b, [], { numeric: true }),
};
