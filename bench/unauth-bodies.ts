// bench/unauth-bodies: broker memory while 250 connections each hold a 1 MiB body, all but its last byte sent
// (issue 13: this grew RSS by 141 MB when every body was read before the token was checked).
//
//   npm run bench:unauth-bodies
//
// Three brokers on one throwaway PostgreSQL, in the same run: sys/unseal (needs no token) with the cap on
// unauthenticated bodies switched off (4 GiB), the same with the default cap (32 MiB), and secret/data/x with no token
// (refused before its body is read). Each prints its RSS growth (VmRSS from /proc) 8 s after the last connection
// opened, and how many connections were answered 503 or 403. Memory, not time: the ratio is growth / growth without cap.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { api, startBroker } from '../test/helpers/broker.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const MiB = 1024 * 1024;
const CONNECTIONS = 250;
const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(label: string, path: string, env: Record<string, string>): Promise<number> {
  const pg = await startPostgres();
  const b = await startBroker({ databaseUrl: await pg.createDatabase(), env });
  const pid = b.proc.pid ?? 0;
  await api(b, 'PUT', 'sys/unseal', { token: null, body: { reset: true } });
  await settle(2000);
  const before = rssMiB(pid);
  const url = new URL(b.address);
  const sockets: net.Socket[] = [];
  const answered: Record<string, number> = {};
  for (let i = 0; i < CONNECTIONS; i++) {
    const s = net.connect(Number(url.port), url.hostname);
    s.on('error', () => undefined);
    s.once('data', (c: Buffer) => {
      const status = c.toString('latin1').slice(9, 12);
      answered[status] = (answered[status] ?? 0) + 1;
    });
    s.write(`PUT /v1/${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MiB}\r\n\r\n`);
    s.write(Buffer.alloc(MiB - 1, 0x20));
    sockets.push(s);
  }
  await settle(8000);
  const growth = rssMiB(pid) - before;
  console.log(`${label.padEnd(34)} RSS ${before.toFixed(1)} → ${(before + growth).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB; answered ${JSON.stringify(answered)}`);
  for (const s of sockets) s.destroy();
  await b.stop();
  return growth;
}

const off = await run('sys/unseal, cap off (4 GiB)', 'sys/unseal', { SEALBOX_MAX_UNAUTHENTICATED_BODY_BYTES: String(4 * 1024 * MiB) });
const capped = await run('sys/unseal, default cap (32 MiB)', 'sys/unseal', {});
const noToken = await run('secret/data/x, no token', 'secret/data/x', {});
console.log(`growth ratio vs cap off: default cap ${(capped / off).toFixed(3)}, no token ${(noToken / off).toFixed(3)}`);
process.exit(0);
