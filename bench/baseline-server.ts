// Baseline for bench/kv-read.ts: a bare Koa route doing one primary-key SELECT on the same PostgreSQL.
import Koa from 'koa';
import pg from 'pg';

const url = process.env.BENCH_DATABASE_URL ?? '';
const pool = new pg.Pool({ connectionString: url, max: 10 });
await pool.query('CREATE TABLE IF NOT EXISTS bench_rows (id int PRIMARY KEY, value text NOT NULL)');
await pool.query("INSERT INTO bench_rows VALUES (1, 'correct-horse-battery-staple') ON CONFLICT DO NOTHING");

const app = new Koa();
app.use(async (ctx) => {
  const r = await pool.query<{ value: string }>('SELECT value FROM bench_rows WHERE id = $1', [1]);
  ctx.body = { data: { value: r.rows[0]?.value } };
});
const server = app.listen(0, '127.0.0.1', () => {
  const a = server.address();
  if (a && typeof a === 'object') process.stdout.write(`${JSON.stringify({ msg: 'listening', address: `http://127.0.0.1:${a.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
