// Reading a channel nobody published to must not make Redis keep it for a day (issue 9 item 6):
// a client allowed into a pattern rule could otherwise fill a noeviction Redis with names it
// only reads. Only the epoch is stored, for emptyStreamTtl; the first publish keeps the epoch.
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { connect } from '../../adapters/client-node.js';
import { engineFor, needRedis, ownRedis } from './helpers.js';
import { cli } from './servers.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  const redis = await ownRedis(t);

  t.test(
    'state, read and history of a never-published channel store at most its epoch, for emptyStreamTtl only',
    async (t) => {
      const e = engineFor(t, { url: redis.url, keyPrefix: 'rs1:' });
      const s = await e.storage.state('only.read');
      await e.storage.read('only.read', 0, 10);
      const k = e.storage.keys('only.read');
      const pttl = Number(await cli(redis.port, 'PTTL', k.meta));
      t.ok(
        pttl > 0 && pttl <= 300_000,
        `the stream record expires within the default emptyStreamTtl of 5 min (PTTL ${pttl} ms), not after streamIdleTtl (1 day)`,
      );
      t.equal(await cli(redis.port, 'EXISTS', k.log), '0\n', 'no log list');
      t.equal((await e.storage.state('only.read')).epoch, s.epoch, 'the epoch is stable while remembered');
      const a = await e.storage.append('only.read', '"first"', { size: 10, ttl: 60_000 });
      t.same(
        { offset: a.offset, epoch: a.epoch },
        { offset: 1, epoch: s.epoch },
        'the first publish continues the epoch readers were given: no false reset',
      );
      const after = Number(await cli(redis.port, 'PTTL', k.meta));
      t.ok(after > 86_000_000, `once published to, the stream is kept for streamIdleTtl (PTTL ${after} ms)`);
    },
  );

  t.test(
    'a read-only stream record vanishes after emptyStreamTtl; many read-only channels leave nothing behind',
    async (t) => {
      const e = engineFor(t, { url: redis.url, keyPrefix: 'rs2:', emptyStreamTtl: 500 });
      for (let i = 0; i < 100; i++) await e.storage.read(`scan.c${i}`, 0, 10);
      const pttl = Number(await cli(redis.port, 'PTTL', e.storage.keys('scan.c99').meta));
      t.ok(pttl > 0 && pttl <= 500, `the last record is there, expiring within 500 ms (PTTL ${pttl})`);
      let left = -1;
      for (let i = 0; i < 250 && left !== 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        left = Number(await cli(redis.port, 'EVAL', "return #redis.call('KEYS', 'rs2:*')", '0'));
      }
      t.equal(left, 0, 'all gone after emptyStreamTtl');
    },
  );

  t.test('subscribing through the hub to never-published channels does not keep them for a day', async (t) => {
    const { url } = await startServer(t, { engine: engineFor(t, { url: redis.url, keyPrefix: 'rs3:' }) });
    const c = connect(url);
    t.teardown(() => c.close());
    for (let i = 0; i < 5; i++) await c.subscribe(`room.r${i}`, () => {}, { qos: 1 }).ready;
    const keys = (await cli(redis.port, 'KEYS', 'rs3:*'))
      .trim()
      .split('\n')
      .filter((k) => k.includes('{room.'));
    t.ok(keys.length > 0, `subscribing touched ${keys.length} keys`);
    for (const k of keys) {
      const pttl = Number(await cli(redis.port, 'PTTL', k));
      t.ok(pttl > 0 && pttl <= 300_000, `${k} expires within 5 min (PTTL ${pttl})`);
    }
  });
}
