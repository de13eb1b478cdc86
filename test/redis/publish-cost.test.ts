// What one publish costs Redis, counted by Redis itself (INFO commandstats on our own server):
// no INFO on the hot path, and the command count the docs state.
import t from 'tap';
import { needRedis, ownRedis } from './helpers.js';
import { engineFor } from './helpers.js';
import { commandStats, statsDelta } from './commandstats.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test('a steady-state append runs 8 Redis commands and no INFO', async (t) => {
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
      { evalsha: n, time: n, hmget: n, hincrby: n, rpush: n, ltrim: n, lindex: n, publish: n },
      '8 commands per append: EVALSHA, TIME, HMGET, HINCRBY, RPUSH, LTRIM, LINDEX, PUBLISH',
    );
    const infoBefore = (await commandStats(redis.port)).get('info')?.calls ?? 0;
    for (let i = 0; i < 50; i++) await e.storage.append('cost.a', '"y"', retain);
    // One INFO is ours (commandStats); none came from the appends.
    t.equal(((await commandStats(redis.port)).get('info')?.calls ?? 0) - infoBefore, 1, 'the appends ran no INFO');
  });
}
