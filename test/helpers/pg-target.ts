// A PostgreSQL database to use as a database-engine target in tests: a table `items` readable by a group role.
//
//   const target = await newTarget('app_readers');   // roles are cluster-wide: give tests that count members their own group
import { startPostgres, withPgClient, type PgCluster } from './postgres.ts';

export interface Target {
  cluster: PgCluster;
  url: string;
  dbName: string;
}

export async function newTarget(group = 'app_readers'): Promise<Target> {
  const cluster = await startPostgres();
  const url = await cluster.createDatabase();
  const dbName = new URL(url).pathname.slice(1);
  await withPgClient(url, async (c) => {
    await c.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
    await c.query(`INSERT INTO items VALUES (1, 'one')`);
    // Race-free: tests of one file may create the same group at once.
    await c.query(`DO $$ BEGIN CREATE ROLE ${group} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await c.query(`GRANT SELECT ON items TO ${group}`);
  });
  return { cluster, url, dbName };
}
