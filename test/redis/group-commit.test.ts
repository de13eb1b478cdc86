// Group commit (adapters/redis/append-batch.ts): appends issued in one event-loop turn share one
// script call. Each must still behave exactly as if it had been sent alone.
import t from 'tap';
import { cli } from './servers.js';
import { engineFor, needRedis, ownRedis, uniqueKeyPrefix } from './helpers.js';
import { commandStats } from './commandstats.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  const retain = { size: 50, ttl: 600_000 };

  t.test('a retry in the same batch as its original is stored once and answered with the same offset', async (t) => {
    const e = engineFor(t, { keyPrefix: uniqueKeyPrefix('gc-idem') });
    await e.storage.append('gc.idem', '"first"', retain);
    const [a, b, c] = await Promise.all([
      e.storage.append('gc.idem', '"x"', { ...retain, idempotencyKey: 'c:m1' }),
      e.storage.append('gc.idem', '"x"', { ...retain, idempotencyKey: 'c:m1' }),
      e.storage.append('gc.idem', '"y"', retain),
    ]);
    t.same([a.offset, a.duplicate], [2, false]);
    t.same([b.offset, b.duplicate], [2, true], 'the retry: same offset, duplicate');
    t.same([c.offset, c.duplicate], [3, false], 'the next message continues after it');
    const { messages } = await e.storage.read('gc.idem', 0, 10);
    t.same(
      messages.map((m) => m.payload),
      ['"first"', '"x"', '"y"'],
      'stored once',
    );
  });

  t.test('streams created in the same batch get epochs of their own', async (t) => {
    const e = engineFor(t, { keyPrefix: uniqueKeyPrefix('gc-new') });
    const rs = await Promise.all(['a', 'b', 'c'].map((x) => e.storage.append(`gc.new.${x}`, '1', retain)));
    t.same(
      rs.map((r) => r.offset),
      [1, 1, 1],
    );
    t.equal(new Set(rs.map((r) => r.epoch)).size, 3, `three epochs: ${rs.map((r) => r.epoch).join(', ')}`);
    t.ok(
      rs.every((r) => /^[0-9a-f]{12}$/.test(r.epoch)),
      'each 12 hex characters, like every epoch',
    );
  });

  t.test(
    'a stream from an earlier Redis run in a batch starts over alone; the others in the batch continue',
    async (t) => {
      const redis = await ownRedis(t);
      const prefix = 'gc:';
      const e = engineFor(t, { url: redis.url, keyPrefix: prefix });
      const first = await Promise.all(['a', 'b'].map((x) => e.storage.append(`gc.run.${x}`, '1', retain)));
      // As if gc.run.a had been written by a server that has since restarted or failed over.
      await cli(redis.port, 'HSET', `${prefix}{gc.run.a}:m`, 'r', 'f'.repeat(40));
      const [a, b] = await Promise.all(['a', 'b'].map((x) => e.storage.append(`gc.run.${x}`, '2', retain)));
      t.not(a!.epoch, first[0]!.epoch, 'gc.run.a: a new epoch');
      t.equal(a!.offset, 1, 'gc.run.a: from offset 1');
      t.same([b!.epoch, b!.offset], [first[1]!.epoch, 2], 'gc.run.b: its epoch continues');
    },
  );

  t.test(
    'an append trims expired messages itself, reading the head only once something may have expired',
    async (t) => {
      const redis = await ownRedis(t);
      const e = engineFor(t, { url: redis.url, keyPrefix: 'gc:' });
      const ttl = 300;
      const log = 'gc:{gc.age}:l';
      for (let i = 1; i <= 3; i++) await e.storage.append('gc.age', String(i), { size: 100, ttl });
      const lindex = async () => (await commandStats(redis.port)).get('lindex')?.calls ?? 0;
      const before = await lindex();
      await e.storage.append('gc.age', '4', { size: 100, ttl });
      t.equal((await lindex()) - before, 0, 'within the ttl of the oldest message: no head read');
      // Expiry is a matter of the clock: wait until the first three are older than the ttl.
      const stored = Number((await cli(redis.port, 'LINDEX', log, '2')).split('|')[0]);
      for (;;) {
        const [sec, usec] = (await cli(redis.port, 'TIME')).trim().split('\n').map(Number);
        if (sec! * 1000 + Math.floor(usec! / 1000) > stored + ttl) break;
        await new Promise((r) => setImmediate(r));
      }
      const r = await e.storage.append('gc.age', '5', { size: 100, ttl });
      t.equal(r.offset, 5);
      const left = (await cli(redis.port, 'LRANGE', log, '0', '-1'))
        .trim()
        .split('\n')
        .map((x) => x.split('|')[1]);
      t.same(left.at(-1), '5', 'the new message is kept');
      t.notOk(
        left.includes('1') || left.includes('2') || left.includes('3'),
        `1..3 trimmed by the append (left: ${left})`,
      );
    },
  );

  t.test(
    'a batch carrying run ids of another server is refused whole and retried with the right ones: no stream starts over, nothing is written twice',
    async (t) => {
      const e = engineFor(t, { keyPrefix: uniqueKeyPrefix('gc-stale') });
      const first = await Promise.all(['a', 'b'].map((x) => e.storage.append(`gc.stale.${x}`, '1', retain)));
      // As after a failover the engine has not noticed yet: it trusts only a server that is gone.
      const conn = (e.storage as unknown as { conn: { runs: Promise<string> | undefined } }).conn;
      conn.runs = Promise.resolve(` ${'0'.repeat(40)} `);
      const next = await Promise.all(['a', 'b'].map((x) => e.storage.append(`gc.stale.${x}`, '2', retain)));
      t.same(
        next.map((r) => [r.epoch, r.offset]),
        first.map((r) => [r.epoch, 2]),
        'both streams continue their epochs at offset 2',
      );
      for (const x of ['a', 'b'])
        t.same(
          (await e.storage.read(`gc.stale.${x}`, 0, 10)).messages.map((m) => m.payload),
          ['1', '2'],
          `gc.stale.${x}: each message stored once`,
        );
    },
  );

  t.test('a batch that fails fails every append in it, each with the engine error', async (t) => {
    const redis = await ownRedis(t);
    const e = engineFor(t, { url: redis.url, keyPrefix: 'gc:' });
    await e.storage.append('gc.down', '1', retain);
    await redis.stop();
    const rs = await Promise.allSettled([1, 2, 3].map((i) => e.storage.append('gc.down', String(i), retain)));
    t.same(
      rs.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    t.ok(
      rs.every((r) => r.status === 'rejected' && (r.reason as Error).name === 'RedisUnavailableError'),
      'each rejected as RedisUnavailableError (the hub answers 201 ENGINE_UNAVAILABLE)',
    );
  });
}
