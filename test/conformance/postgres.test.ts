// The PostgreSQL storage example (examples/postgres-storage) against the exported suite, on
// the local PostgreSQL. Skips when it is down, except in CI (CI=true), where it must run.
import t from 'tap';
import pg from 'pg';
import { migrate, PostgresStorage } from '../../examples/postgres-storage/storage.js';
import { storageConformance } from '../../lib/testing/index.js';

// The user is named because pg has no default user when $USER is unset (as in CI containers).
const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

async function pgAnswers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

if (await pgAnswers()) {
  // One schema per run, dropped at the end, so runs never see each other's data.
  const schema = `sy_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  await migrate(admin, schema);
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });
  storageConformance({
    test,
    name: 'postgres storage',
    createStorage: ({ dedupWindow }) => new PostgresStorage({ connectionString: url, schema, dedupWindow }),
    capabilities: { sharedBackend: true, ttl: true, idempotency: true },
    loseData: async (_storage, channel) => {
      await admin.query(`DELETE FROM ${schema}.streams WHERE channel = $1`, [channel]);
    },
  });

  // The example's doc promises that restoring an old backup gives a new epoch (issue 9 item 9):
  // a restore re-inserts rows, so offsets the old epoch already handed out are never reused under it.
  t.test(
    'postgres storage: a restored old backup serves new epochs, never reusing offsets under the old one',
    async (t) => {
      const ch = `restore.${process.pid}`;
      const live = new PostgresStorage({ connectionString: url, schema });
      t.teardown(() => live.close());
      for (let i = 1; i <= 3; i++) await live.append(ch, String(i), { size: 100, ttl: 600_000 });
      const before = await live.state(ch);
      const tables = ['streams', 'messages', 'idempotency', 'incarnation'];
      for (const tb of tables)
        await admin.query(`CREATE TABLE ${schema}.backup_${tb} AS SELECT * FROM ${schema}.${tb}`);
      t.teardown(async () => {
        for (const tb of tables) await admin.query(`DROP TABLE IF EXISTS ${schema}.backup_${tb}`);
      });
      await live.append(ch, '4', { size: 100, ttl: 600_000 });
      await live.append(ch, '5', { size: 100, ttl: 600_000 }); // subscribers saw offsets 4 and 5 of this epoch
      // Restore the backup (as pg_restore would: the rows are inserted again).
      const c = await admin.connect();
      try {
        await c.query('BEGIN');
        for (const tb of tables) await c.query(`DELETE FROM ${schema}.${tb}`);
        for (const tb of tables) await c.query(`INSERT INTO ${schema}.${tb} SELECT * FROM ${schema}.backup_${tb}`);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
      const restarted = new PostgresStorage({ connectionString: url, schema }); // a node starting on the restored database
      t.teardown(() => restarted.close());
      const after = await restarted.state(ch);
      t.equal(after.offset, 3, 'the backup holds offsets 1..3');
      t.not(after.epoch, before.epoch, 'and serves them under a new epoch');
      const next = await restarted.append(ch, '4 again', { size: 100, ttl: 600_000 });
      t.same([next.offset, next.epoch], [4, after.epoch], 'offset 4 is handed out again only under the new epoch');
      t.equal((await restarted.state(ch)).epoch, after.epoch, 'the new epoch is stable');
    },
  );
} else if (process.env.CI) {
  t.fail(`PostgreSQL does not answer at ${url}, and CI requires it`);
} else {
  t.pass(`skipped: PostgreSQL does not answer at ${url} (set SWITCHYARD_PG_URL, or start it)`);
}
