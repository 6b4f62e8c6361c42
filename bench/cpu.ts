// CPU time of processes on Linux (/proc), for benchmarks that report the cost of one operation beside its rate: the
// broker's, PostgreSQL's (the postmaster and every backend) and the load generator's own. On a shared machine the
// rate moves with the neighbours' load; CPU time per operation moves much less.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10;

function stat(pid: number): { ppid: number; ms: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state ppid … utime(14) stime(15), counted from 1.
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), ms: (Number(f[11]) + Number(f[12])) * TICK_MS };
  } catch {
    return null;
  }
}

/** CPU milliseconds used so far by `root` and every process below it (those still alive). */
export function treeCpuMs(root: number): number {
  const children = new Map<number, number[]>();
  const ms = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (!s) continue;
    ms.set(pid, s.ms);
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  let total = 0;
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    total += ms.get(pid) ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** This process's own CPU milliseconds so far (the load generator). */
export const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The CPU each of `pids` (and the load generator) spent while `fn` ran. */
export async function measureCpu<T>(pids: Record<string, number>, fn: () => Promise<T>): Promise<{ result: T; ms: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, treeCpuMs(pid)]));
  const self0 = selfCpuMs();
  const result = await fn();
  const ms: Record<string, number> = { client: selfCpuMs() - self0 };
  for (const [k, pid] of Object.entries(pids)) ms[k] = treeCpuMs(pid) - (before[k] ?? 0);
  return { result, ms };
}
