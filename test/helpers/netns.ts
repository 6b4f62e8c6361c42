// A network namespace joined to this one by two veth pairs (issue 21): one carries the clients' HTTP to a broker
// inside it, the other its PostgreSQL traffic, so a test can cut the database link alone (`cut()` sets the host end
// down: packets are dropped silently, as in a real partition) and bring it back. Needs root and a kernel that allows
// namespaces; `netnsUnavailable()` says why not, for a clear skip.
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onExitSync } from './exit.ts';

export interface Netns {
  readonly name: string;
  /** The broker's address inside the namespace (HTTP link). */
  readonly innerApi: string;
  /** The host's end of the database link: PostgreSQL listens here. */
  readonly hostDb: string;
  /** The database link's subnet, for pg_hba. */
  readonly dbSubnet: string;
  cut(): void;
  restore(): void;
  remove(): void;
}

/** The wrapper that starts the broker inside the namespace (for startBroker's `entry`). */
export const NETNS_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'netns-broker.mjs');

const ip = (...args: string[]): { ok: boolean; err: string } => {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: `${r.stderr ?? ''}${r.error?.message ?? ''}`.trim() };
};

const must = (...args: string[]): void => {
  const r = ip(...args);
  if (!r.ok) throw new Error(`ip ${args.join(' ')} failed: ${r.err}`);
};

/** Null when namespaces work here; otherwise the reason (not root, no `ip`, or the kernel refuses). */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `sbxprobe${process.pid}`;
  const r = ip('netns', 'add', probe);
  if (!r.ok) return `the kernel refuses network namespaces here (ip netns add: ${r.err || 'failed'})`;
  ip('netns', 'del', probe);
  return null;
}

export function createNetns(): Netns {
  const tag = `${process.pid % 100000}`;
  const name = `sbxha${tag}`;
  const [apiHost, apiIn, dbHost, dbIn] = [`sbxa${tag}`, `sbxA${tag}`, `sbxd${tag}`, `sbxD${tag}`];
  const a = randomInt(100, 200);
  const b = randomInt(0, 256);
  const net = `10.${a}.${b}`;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    ip('link', 'del', apiHost);
    ip('link', 'del', dbHost);
    ip('netns', 'del', name);
  };
  const unregister = onExitSync(remove);
  try {
    must('netns', 'add', name);
    must('-n', name, 'link', 'set', 'lo', 'up');
    for (const [host, inner, hostIp, innerIp] of [
      [apiHost, apiIn, `${net}.1`, `${net}.2`],
      [dbHost, dbIn, `${net}.5`, `${net}.6`],
    ] as const) {
      must('link', 'add', host, 'type', 'veth', 'peer', 'name', inner);
      must('link', 'set', inner, 'netns', name);
      must('addr', 'add', `${hostIp}/30`, 'dev', host);
      must('link', 'set', host, 'up');
      must('-n', name, 'addr', 'add', `${innerIp}/30`, 'dev', inner);
      must('-n', name, 'link', 'set', inner, 'up');
    }
  } catch (err) {
    remove();
    unregister();
    throw err;
  }
  return {
    name,
    innerApi: `${net}.2`,
    hostDb: `${net}.5`,
    dbSubnet: `${net}.4/30`,
    cut: () => must('link', 'set', dbHost, 'down'),
    restore: () => must('link', 'set', dbHost, 'up'),
    remove: () => {
      remove();
      unregister();
    },
  };
}
