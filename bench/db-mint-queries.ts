// bench/db-mint-queries: the statements one mint costs on the broker's storage and on the target. A broker on a
// storage cluster of its own mints N credentials from CONC lanes with log_statement=all on both clusters; the logs
// are then counted per statement kind. Not a speed figure: a count, to see what batching (issue 18) saves.
//
//   node --import tsx bench/db-mint-queries.ts        (N=400 CONC=8 by default)
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { startPostgres, startSeparatePostgres, withPgClient, type PgCluster } from '../test/helpers/postgres.ts';
import { call, mountPostgresTarget, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const N = Number(process.env.N ?? 400);
const CONC = Number(process.env.CONC ?? 8);
const target = await startPostgres();
const storage = await startSeparatePostgres();
const targetUrl = await target.createDatabase();
await withPgClient(targetUrl, (c) => c.query(`CREATE ROLE mint_readers NOLOGIN`));
const broker = await spawnBroker(await storage.createDatabase(), TOKEN);
try {
  await mountPostgresTarget(broker.address, TOKEN, { port: target.port, user: target.user, password: target.password, dbName: new URL(targetUrl).pathname.slice(1) }, { max_open_connections: 4 });
  await call(broker.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'mint_readers', default_ttl: '1h', max_ttl: '1h' });
  const mint = async (): Promise<void> => {
    const r = await fetch(`${broker.address}/v1/database/creds/ro`, { headers: { 'x-vault-token': TOKEN } });
    if (r.status !== 200) throw new Error(`creds: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  };
  for (let i = 0; i < 20; i++) await mint();
  const logOf = async (c: PgCluster): Promise<string> =>
    `${dirname((await withPgClient(c.superuserUrl, (x) => x.query<{ data_directory: string }>('SHOW data_directory'))).rows[0]?.data_directory ?? '')}/postgres.log`;
  const logStatements = (c: PgCluster, v: 'all' | 'none'): Promise<unknown> =>
    withPgClient(c.superuserUrl, async (x) => {
      await x.query(`ALTER SYSTEM SET log_statement = '${v}'`);
      await x.query('SELECT pg_reload_conf()');
    });
  const clusters = { storage, target };
  const files = { storage: await logOf(storage), target: await logOf(target) };
  const from = { storage: readFileSync(files.storage, 'utf8').length, target: readFileSync(files.target, 'utf8').length };
  await logStatements(storage, 'all');
  await logStatements(target, 'all');
  await Promise.all(Array.from({ length: CONC }, async () => { for (let i = 0; i < N / CONC; i++) await mint(); }));
  await logStatements(storage, 'none');
  await logStatements(target, 'none');
  console.log(`db-mint-queries: ${N} mints from ${CONC} lanes, PostgreSQL ${target.majorVersion}`);
  for (const k of Object.keys(clusters) as (keyof typeof clusters)[]) {
    const lines = readFileSync(files[k], 'utf8').slice(from[k]).split('\n');
    const statements = lines.filter((l) => /LOG: {2}(statement|execute [^:]*):/.test(l) && !/log_statement|pg_reload_conf/.test(l));
    console.log(`${k}: ${statements.length} statements, ${(statements.length / N).toFixed(2)} per mint`);
    const kinds = new Map<string, number>();
    for (const l of statements) {
      const text = (/(?:statement|execute [^:]*): (.*)/.exec(l)?.[1] ?? l).replace(/'[^']*'/g, "'…'").replace(/"v-[^"]*"/g, '"v-…"').slice(0, 90);
      kinds.set(text, (kinds.get(text) ?? 0) + 1);
    }
    for (const [text, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${String(n).padStart(6)}  ${text}`);
  }
} finally {
  broker.proc.kill('SIGTERM');
  await target.stop();
  await storage.stop();
}
