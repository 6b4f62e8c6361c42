// bench/agent: the agent's steady-state RSS with 10 secrets against an empty node process (`node -e
// 'setInterval(()=>{},1e9)'`) started in the same run, in alternating rounds A B A B (goal: agent <= empty + 8 MB,
// issue 18); then start-to-ready time and the latency from a KV write to the new content in the file (p50/p99 over
// 100 changes; goal p99 <= 1 s), with the event stream on (poll_interval 60 s).
// The agent runs compiled (`npm run build`, copied here into a scratch dir) with the node flags of the image and the
// script the image runs (the bundle, agent/dist/bundle/main.js): both are read from the ENTRYPOINT of
// deploy/docker/agent.Dockerfile, so this measures what production runs. "Steady state" is
// after GET /ready answered 200 (every file written) and the RSS has stopped moving (4 samples 0.5 s apart within
// 0.25 MB, at most 15 s). The empty node runs without flags (the goal's baseline); the same empty node with the
// image's flags is printed beside it for reference.
//
//   npm run bench:agent          (BENCH_ROUNDS=4 BENCH_CHANGES=100 BENCH_STARTS=5)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { api, startBroker, type Broker } from '../test/helpers/broker.ts';
import { ROOT } from './lib.ts';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 100);
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const GOAL_MB = 8;
const AGENT_DIR = path.join(ROOT, 'agent');

async function ok(b: Broker, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await api(b, method, p, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** RSS of a process and its descendants (tsx runs esbuild as a child process), in MB. */
function rssMb(pid: number): number {
  let kb = 0;
  const visit = (p: number): void => {
    try {
      const status = fs.readFileSync(`/proc/${p}/status`, 'utf8');
      kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      for (const task of fs.readdirSync(`/proc/${p}/task`)) {
        const kids = fs.readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const k of kids ? kids.split(/\s+/) : []) visit(Number(k));
      }
    } catch {
      // gone
    }
  };
  visit(pid);
  return kb / 1024;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What the agent image runs: the ENTRYPOINT's node flags (its words between the node binary and the script) and the
 * script under agent/dist/ (`bundle/main.js`, the agent bundled with its dependencies).
 */
function imageEntry(dockerfile: string): { flags: string[]; script: string } {
  const line = dockerfile.split('\n').filter((l) => l.startsWith('ENTRYPOINT ')).at(-1);
  const words = line ? (JSON.parse(line.slice('ENTRYPOINT '.length)) as string[]) : [];
  const main = words.findIndex((w) => /^agent\/dist\/.+\.js$/.test(w));
  if (main < 1) throw new Error('deploy/docker/agent.Dockerfile: no exec-form ENTRYPOINT running a script in agent/dist/');
  return { flags: words.slice(1, main), script: (words[main] ?? '').slice('agent/dist/'.length) };
}

/** RSS once it has stopped moving: 4 samples 0.5 s apart within 0.25 MB of each other (at most 15 s). */
async function steadyRssMb(pid: number): Promise<number> {
  const samples: number[] = [];
  const deadline = performance.now() + 15_000;
  for (;;) {
    samples.push(rssMb(pid));
    const last = samples.slice(-4);
    if ((last.length === 4 && Math.max(...last) - Math.min(...last) <= 0.25) || performance.now() > deadline) return last.at(-1) ?? NaN;
    await sleep(500);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, c) => a - c);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};

const b = await startBroker();
const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'bench-agent-'));
const scratch = path.join(AGENT_DIR, '.bench-dist');
try {
  await ok(b, 'POST', 'sys/auth/approle', { type: 'approle' });
  await ok(b, 'PUT', 'sys/policies/acl/bench-agent', { policy: { path: { 'secret/data/bench/*': { capabilities: ['read'] }, 'sys/events/subscribe': { capabilities: ['read'] } } } });
  await ok(b, 'POST', 'auth/approle/role/bench', { token_policies: ['bench-agent'], token_ttl: '1h' });
  const roleId = ((await ok(b, 'GET', 'auth/approle/role/bench/role-id')) as { data: { role_id: string } }).data.role_id;
  const secretId = ((await ok(b, 'POST', 'auth/approle/role/bench/secret-id')) as { data: { secret_id: string } }).data.secret_id;
  await fsp.writeFile(path.join(work, 'role-id'), roleId);
  await fsp.writeFile(path.join(work, 'secret-id'), secretId);
  for (let i = 0; i < 10; i++) await ok(b, 'POST', `secret/data/bench/s${i}`, { data: { user: `u${i}`, password: `p${i}-0`, n: i } });

  // The build npm ci runs (scripts/build.mjs: esbuild into agent/dist/ and agent/dist/bundle/), copied to a scratch dir.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--only', 'agent'], { stdio: 'inherit' });
  await fsp.cp(path.join(AGENT_DIR, 'dist'), scratch, { recursive: true });
  const { flags, script } = imageEntry(fs.readFileSync(path.join(ROOT, 'deploy', 'docker', 'agent.Dockerfile'), 'utf8'));
  const agentArgs = [...flags, path.join(scratch, script)];
  const EMPTY = ['-e', 'setInterval(()=>{},1e9)'];
  // Start time and write-to-file latency, with the image's flags and without (what the flags cost in speed).
  const variants: [string, string[]][] = [
    [`compiled, image flags (${flags.join(' ') || 'none'})`, agentArgs],
    ['compiled, no flags', [path.join(scratch, script)]],
  ];

  const config = async (port: number, out: string): Promise<string> => {
    await fsp.mkdir(out, { recursive: true });
    // YAML (the usual form; a JSON config would not even load the YAML parser).
    const file = path.join(work, `agent-${port}.yaml`);
    const lines = [
      `broker: { address: "${b.address}" }`,
      `listen: "127.0.0.1:${port}"`,
      'poll_interval: 60s',
      'log_level: warn',
      `auth: { method: approle, role_id_file: ${path.join(work, 'role-id')}, secret_id_file: ${path.join(work, 'secret-id')} }`,
      'secrets:',
      ...Array.from({ length: 10 }, (_, i) => `  - { path: secret/data/bench/s${i}, destination: ${path.join(out, `s${i}.env`)}, template: "USER={{user}}\\nPASSWORD={{env password}}\\n" }`),
    ];
    await fsp.writeFile(file, `${lines.join('\n')}\n`);
    return file;
  };
  const start = async (args: string[]): Promise<{ proc: ChildProcess; port: number; readyMs: number }> => {
    const port = await freePort();
    const file = await config(port, path.join(work, `out-${port}`));
    const t0 = performance.now();
    const proc = spawn(process.execPath, [...args, '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
      if (r?.status === 200) return { proc, port, readyMs: performance.now() - t0 };
      if (proc.exitCode !== null) throw new Error('agent exited');
      await sleep(5);
    }
  };
  const stop = (proc: ChildProcess): Promise<void> =>
    new Promise((r) => {
      proc.once('exit', () => r());
      proc.kill('SIGTERM');
    });

  console.log(`agent bench: 10 KV v2 secrets via AppRole, event stream on, poll_interval 60 s; node ${process.version}, ${os.cpus().length} cores`);
  console.log(`agent: agent/dist/${script} with the image's node flags: ${flags.join(' ') || '(none)'} (deploy/docker/agent.Dockerfile ENTRYPOINT)`);
  console.log(`empty: node -e 'setInterval(()=>{},1e9)' (no flags); "empty+flags": the same with the image's flags, for reference`);
  console.log(`\nsteady-state RSS (MB), ${ROUNDS} rounds A B A B; goal: agent <= empty + ${GOAL_MB} MB`);
  const rounds: { agent: number; empty: number; emptyFlags: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await start(agentArgs);
    const agent = await steadyRssMb(a.proc.pid ?? 0);
    const written = (await fsp.readdir(path.join(work, `out-${a.port}`))).filter((f) => f.endsWith('.env')).length;
    await stop(a.proc);
    if (written !== 10) throw new Error(`the agent wrote ${written} of 10 files`);
    const idle = async (args: string[]): Promise<number> => {
      const p = spawn(process.execPath, args, { stdio: 'ignore' });
      await sleep(500);
      const rss = await steadyRssMb(p.pid ?? 0);
      await stop(p);
      return rss;
    };
    const empty = await idle(EMPTY);
    const emptyFlags = await idle([...flags, ...EMPTY]);
    rounds.push({ agent, empty, emptyFlags });
    console.log(
      `  round ${i + 1}: agent ${agent.toFixed(1)}  empty ${empty.toFixed(1)}  diff ${(agent - empty).toFixed(1)}  ratio ${(agent / empty).toFixed(2)}x   (empty+flags ${emptyFlags.toFixed(1)}, diff ${(agent - emptyFlags).toFixed(1)})`,
    );
  }
  const diffs = rounds.map((r) => r.agent - r.empty);
  const ratios = rounds.map((r) => r.agent / r.empty);
  const med = median(diffs);
  console.log(`  agent: best ${Math.min(...rounds.map((r) => r.agent)).toFixed(1)}, median ${median(rounds.map((r) => r.agent)).toFixed(1)}; empty: best ${Math.min(...rounds.map((r) => r.empty)).toFixed(1)}, median ${median(rounds.map((r) => r.empty)).toFixed(1)}`);
  console.log(`  diff: best ${Math.min(...diffs).toFixed(1)} MB, median ${med.toFixed(1)} MB; ratio: best ${Math.min(...ratios).toFixed(2)}x, median ${median(ratios).toFixed(2)}x`);
  console.log(`  goal (median diff <= ${GOAL_MB} MB): ${med <= GOAL_MB ? 'MET' : `NOT MET (${(med - GOAL_MB).toFixed(1)} MB over)`}`);

  for (const [name, args] of variants.filter(([n]) => !process.env.BENCH_VARIANT || n.startsWith(process.env.BENCH_VARIANT))) {
    const readies: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const a = await start(args);
      readies.push(a.readyMs);
      await stop(a.proc);
    }
    const a = await start(args);
    const rssIdle = await steadyRssMb(a.proc.pid ?? 0);

    // Write-to-file latency: one secret changed 100 times, one change at a time.
    const dest = path.join(work, `out-${a.port}`, 's0.env');
    const lat: number[] = [];
    for (let i = 1; i <= CHANGES; i++) {
      const want = `USER=u0\nPASSWORD="p0-${i}"\n`;
      const t0 = performance.now();
      await ok(b, 'POST', 'secret/data/bench/s0', { data: { user: 'u0', password: `p0-${i}`, n: 0 } });
      for (;;) {
        if ((await fsp.readFile(dest, 'utf8').catch(() => '')) === want) break;
        if (performance.now() - t0 > 10_000) throw new Error(`change ${i} did not arrive within 10 s`);
        await sleep(1);
      }
      lat.push(performance.now() - t0);
    }
    const rssAfter = await steadyRssMb(a.proc.pid ?? 0);
    await stop(a.proc);
    console.log(`\n[${name}]`);
    console.log(`  start-to-ready (spawn → GET /ready 200): median ${pct(readies, 50).toFixed(0)} ms, max ${Math.max(...readies).toFixed(0)} ms over ${STARTS} starts`);
    console.log(`  steady-state RSS, 10 secrets: ${rssIdle.toFixed(1)} MB idle, ${rssAfter.toFixed(1)} MB after ${CHANGES} changes`);
    console.log(`  KV write -> file (write request included): p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms over ${CHANGES} changes (goal p99 <= 1000 ms)`);
  }
} finally {
  await b.stop();
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.rm(scratch, { recursive: true, force: true });
}
