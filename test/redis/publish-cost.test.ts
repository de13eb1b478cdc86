// What one publish costs Redis, counted by Redis itself (INFO commandstats on our own server):
// no INFO on the hot path, and the command count the docs state.
import t from 'tap';
import { needRedis, ownRedis } from './helpers.js';
import { engineFor } from './helpers.js';
import { commandStats, statsDelta } from './commandstats.js';
import { MAX_BATCH } from '../../adapters/redis/append-batch.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test('a steady-state append alone runs 7 Redis commands and no INFO or LINDEX', async (t) => {
    const redis = await ownRedis(t);
    const e = engineFor(t, { url: redis.url, keyPrefix: 'cost:' });
    const retain = { size: 50, ttl: 600_000 };
    // The first append creates the stream (one INFO to stamp it) and fills the window.
    for (let i = 0; i < 60; i++) await e.storage.append('cost.a', '"x"', retain);
    const before = await commandStats(redis.port);
    const n = 200;
    for (let i = 0; i < n; i++) await e.storage.append('cost.a', JSON.stringify({ i }), retain);
    const d = statsDelta(before, await commandStats(redis.port));
    delete d.info; // our own INFO commandstats call
    t.same(
      d,
      { evalsha: n, time: n, hmget: n, hincrby: n, rpush: n, ltrim: n, publish: n },
      '7 commands per append: EVALSHA, TIME, HMGET, HINCRBY, RPUSH, LTRIM, PUBLISH (the head is read only when something may have expired)',
    );
    const infoBefore = (await commandStats(redis.port)).get('info')?.calls ?? 0;
    for (let i = 0; i < 50; i++) await e.storage.append('cost.a', '"y"', retain);
    // One INFO is ours (commandStats); none came from the appends.
    t.equal(((await commandStats(redis.port)).get('info')?.calls ?? 0) - infoBefore, 1, 'the appends ran no INFO');
  });

  t.test(
    'appends issued together share script calls: 200 appends over 10 channels cost 4 EVALSHA, 4 TIME and one HMGET per channel in each call',
    async (t) => {
      const redis = await ownRedis(t);
      const e = engineFor(t, { url: redis.url, keyPrefix: 'cost:' });
      const retain = { size: 50, ttl: 600_000 };
      const channels = Array.from({ length: 10 }, (_, i) => `cost.g${i}`);
      for (const ch of channels) for (let i = 0; i < 60; i++) await e.storage.append(ch, '"x"', retain);
      const before = await commandStats(redis.port);
      const n = 200;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => e.storage.append(channels[i % 10]!, JSON.stringify({ i }), retain)),
      );
      const d = statsDelta(before, await commandStats(redis.port));
      delete d.info;
      const calls = Math.ceil(n / MAX_BATCH);
      // One HMGET per channel present in a call (the last call holds the remaining n % MAX_BATCH).
      let hmget = 0;
      for (let b = 0; b < n; b += MAX_BATCH) hmget += Math.min(10, Math.min(n, b + MAX_BATCH) - b);
      t.same(
        d,
        { evalsha: calls, time: calls, hmget, hincrby: n, rpush: n, ltrim: n, publish: n },
        `${calls} script calls of at most ${MAX_BATCH} appends`,
      );
      for (const [c, ch] of channels.entries()) {
        const offsets = results.filter((_, i) => i % 10 === c).map((r) => r.offset);
        t.same(
          offsets,
          Array.from({ length: n / 10 }, (_, i) => 61 + i),
          `${ch}: consecutive offsets in call order`,
        );
      }
    },
  );
}
