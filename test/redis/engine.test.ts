// Redis-engine behaviour beyond the conformance suites: option checks, glob escaping, the live
// path's gap detection across nodes, fail-fast while Redis is down, resubscribe after reconnect.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { Switchyard } from '../../lib/hub.js';
import { SwitchyardError } from '../../lib/errors.js';
import { patternToGlob, redisEngine, type RedisClientLike } from '../../adapters/redis/index.js';
import type { BrokerMessage } from '../../lib/engine.js';
import { connectClient, startServer, until } from '../helpers/server.js';
import { engineFor, needRedis, ownRedis, REDIS_URL, uniqueKeyPrefix } from './helpers.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof SwitchyardError ? e.code : 'not a SwitchyardError';
  }
  return 'no error';
};

t.test('invalid options are refused with 150 BAD_OPTIONS', async (t) => {
  t.equal(
    code(() => redisEngine({ url: 'http://x' })),
    150,
    'a non-redis URL',
  );
  t.equal(
    code(() => redisEngine({ keyPrefix: 'a{b}' })),
    150,
    'a prefix with hash-tag braces',
  );
  t.equal(
    code(() => redisEngine({ dedupWindow: 0 })),
    150,
    'a zero window',
  );
  t.equal(
    code(() => redisEngine({ streamIdleTtl: -1 })),
    150,
    'a negative idle ttl',
  );
  const queued = createClient({ url: REDIS_URL }) as unknown as RedisClientLike;
  t.equal(
    code(() => redisEngine({ client: queued })),
    150,
    'a client with an offline queue, which would hold publishes while Redis is down',
  );
});

t.test('patterns become globs with every literal glob character escaped', async (t) => {
  t.equal(patternToGlob('app:', 'chat.*'), 'app:chat.*');
  t.equal(patternToGlob('app:', 'orders.>'), 'app:orders.*');
  t.equal(patternToGlob('a*b?[c]\\-^:', 'x.*.y'), 'a\\*b\\?\\[c\\]\\\\\\-\\^:x.*.y');
});

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test('a pattern interest under a prefix with glob characters does not match other prefixes', async (t) => {
    const base = uniqueKeyPrefix('glob');
    const mine = engineFor(t, { keyPrefix: `${base}p?[1]:` });
    const other = engineFor(t, { keyPrefix: `${base}pX1]:` });
    const got: BrokerMessage[] = [];
    await mine.broker.start({ message: (m) => got.push(m), interrupted: () => {} });
    await other.broker.start({ message: () => {}, interrupted: () => {} });
    await mine.broker.subscribe('chat.*');
    await other.storage.append('chat.a', '"other"', { size: 10, ttl: 60_000 });
    await mine.storage.append('chat.b', '"mine"', { size: 10, ttl: 60_000 });
    await until(() => got.length > 0);
    t.same(
      got.map((m) => m.payload),
      ['"mine"'],
    );
  });

  t.test('a message missing on the bus is detected by its offset and filled from Redis', async (t) => {
    const keyPrefix = uniqueKeyPrefix('gap');
    const history = { size: 1_000, ttl: 600_000, recoveryCap: 1_000 };
    const { url } = await startServer(t, { engine: engineFor(t, { keyPrefix }), history });
    const publisher = engineFor(t, { keyPrefix });
    const pubHub = new Switchyard({ engine: publisher, history });
    t.teardown(() => pubHub.close());
    const c = await connectClient(t, url);
    const got: number[] = [];
    await c.subscribe('feed.gap', (m) => void got.push(m.offset), { qos: 1 }).ready;
    await pubHub.publish('feed.gap', 1);
    await until(() => got.length === 1);
    // Offset 2 is stored without its PUBLISH, as if the bus had lost it.
    const k = publisher.storage.keys('feed.gap');
    const raw = createClient({ url: REDIS_URL });
    await raw.connect();
    t.teardown(() => raw.destroy());
    await raw.hIncrBy(k.meta, 'o', 1);
    await raw.rPush(k.log, `${Date.now()}|2`);
    await pubHub.publish('feed.gap', 3);
    await until(() => got.length === 3);
    t.same(got, [1, 2, 3], 'offset 2 was read from the store before 3 was delivered');
  });

  t.test('a pattern subscription on one node receives what another node publishes', async (t) => {
    const keyPrefix = uniqueKeyPrefix('pat');
    const { url } = await startServer(t, { engine: engineFor(t, { keyPrefix }) });
    const pubHub = new Switchyard({ engine: engineFor(t, { keyPrefix }) });
    t.teardown(() => pubHub.close());
    const c = await connectClient(t, url);
    const got: string[] = [];
    await c.subscribe('news.*', (m) => void got.push(m.channel)).ready;
    await pubHub.publish('news.deep.x', 0);
    await pubHub.publish('news.a', 1);
    await until(() => got.length === 1);
    t.same(got, ['news.a']);
  });

  t.test(
    'while Redis is down appends reject at once, and after it returns the broker resubscribes and reports the interruption',
    async (t) => {
      const redis = await ownRedis(t);
      const e = engineFor(t, { url: redis.url, keyPrefix: uniqueKeyPrefix('down') });
      const got: BrokerMessage[] = [];
      let interrupted = 0;
      await e.broker.start({ message: (m) => got.push(m), interrupted: () => interrupted++ });
      await e.broker.subscribe('x.y');
      await e.storage.append('x.y', '1', { size: 10, ttl: 60_000 });
      await until(() => got.length === 1);
      await redis.stop();
      const t0 = performance.now();
      await t.rejects(e.storage.append('x.y', '2', { size: 10, ttl: 60_000 }), { name: 'RedisUnavailableError' });
      t.ok(performance.now() - t0 < 500, 'the append failed fast');
      await redis.start();
      await until(() => interrupted === 1, 10_000);
      const r = await e.storage.append('x.y', '3', { size: 10, ttl: 60_000 });
      t.equal(r.offset, 1, 'the restarted Redis had no data: a new stream');
      await until(() => got.length === 2, 5_000);
      t.equal(got[1]!.payload, '3', 'the subscription was re-established on the new connection');
    },
  );

  t.test(
    'with durable AOF a Redis restart keeps streams when restartIsDataLoss is false, and starts them over by default',
    async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'sy-aof-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const redis = await ownRedis(t, ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
      const durable = engineFor(t, { url: redis.url, keyPrefix: 'durable:', restartIsDataLoss: false });
      const strict = engineFor(t, { url: redis.url, keyPrefix: 'strict:' });
      const retain = { size: 10, ttl: 600_000 };
      const d1 = await durable.storage.append('s.x', '"kept"', retain);
      const s1 = await strict.storage.append('s.x', '"kept"', retain);
      t.equal((await strict.storage.state('s.x')).epoch, s1.epoch, 'no restart yet: the epoch holds');
      // SIGKILL: with appendfsync always every acknowledged append is already on disk.
      await redis.stop();
      await redis.start();
      const when = async <T>(fn: () => Promise<T>): Promise<T> => {
        const end = Date.now() + 10_000;
        for (;;) {
          try {
            return await fn();
          } catch (err) {
            if (Date.now() > end) throw err;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const d2 = await when(() => durable.storage.read('s.x', 0, 10));
      t.same(
        { epoch: d2.state.epoch, offset: d2.state.offset, data: d2.messages.map((m) => m.payload) },
        { epoch: d1.epoch, offset: 1, data: ['"kept"'] },
        'durable: same epoch, message still there',
      );
      const s2 = await when(() => strict.storage.read('s.x', 0, 10));
      t.not(s2.state.epoch, s1.epoch, 'default: a new epoch after the restart');
      t.same(
        { offset: s2.state.offset, messages: s2.messages },
        { offset: 0, messages: [] },
        'default: the stream starts over',
      );
      t.equal(
        (await strict.storage.append('s.x', '"new"', retain)).epoch,
        s2.state.epoch,
        'and stays in its new epoch',
      );
    },
  );
}
