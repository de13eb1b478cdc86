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
} else if (process.env.CI) {
  t.fail(`PostgreSQL does not answer at ${url}, and CI requires it`);
} else {
  t.pass(`skipped: PostgreSQL does not answer at ${url} (set SWITCHYARD_PG_URL, or start it)`);
}
