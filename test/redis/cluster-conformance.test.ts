// The Redis engine on a real Redis Cluster (3 primaries, started by the test): the storage,
// broker and presence conformance suites, hash-tagged keys on one shard, sharded pub/sub and
// pattern subscriptions through the first-segment feed.
import t from 'tap';
import { redisEngine, type RedisEngineOptions } from '../../adapters/redis/index.js';
import { brokerConformance, presenceConformance, storageConformance } from '../../lib/testing/index.js';
import { brokerOf, loseStream, needRedis, presenceOf, uniqueKeyPrefix } from './helpers.js';
import { cli, startCluster } from './servers.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  const cluster = await startCluster(t);
  const keyPrefix = uniqueKeyPrefix('cl');
  const engine = (o: RedisEngineOptions = {}) =>
    redisEngine({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix, connectTimeout: 3_000, ...o });
  const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

  storageConformance({
    test,
    name: 'redis cluster storage',
    createStorage: ({ dedupWindow }) => engine({ dedupWindow }).storage,
    capabilities: { sharedBackend: true, ttl: true, idempotency: true },
    loseData: loseStream,
  });

  brokerConformance({
    test,
    name: 'redis cluster broker',
    createBroker: () => brokerOf(engine()),
    capabilities: { sharedBackend: true, interestRouting: true },
  });

  presenceConformance({
    test,
    name: 'redis cluster presence',
    createPresence: () => presenceOf(engine({ presenceTtl: 400, presenceRefresh: 100 })),
    capabilities: { sharedBackend: true, events: true },
    kill: (store) => store.close(),
    deadNodeWithin: 3_000,
  });

  t.test(
    'appends to 12 channels on 3 shards issued together all succeed (a script call only carries one channel there), each channel in call order',
    async (t) => {
      const e = engine();
      t.teardown(() => e.storage.close());
      const channels = Array.from({ length: 12 }, (_, i) => `together.c${i}`);
      const results = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          e.storage.append(channels[i % 12]!, String(i), { size: 50, ttl: 60_000 }),
        ),
      );
      for (const [c, ch] of channels.entries())
        t.same(
          results.filter((_, i) => i % 12 === c).map((r) => r.offset),
          Array.from({ length: 10 }, (_, i) => i + 1),
          `${ch}: offsets 1..10 in call order`,
        );
    },
  );

  t.test('channels spread over the 3 shards, each channel with all its keys on one shard', async (t) => {
    const e = engine();
    t.teardown(() => e.storage.close());
    const owners = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const ch = `spread.c${i}`;
      await e.storage.append(ch, '1', { size: 10, ttl: 60_000, idempotencyKey: 'k' });
      const k = e.storage.keys(ch);
      const slots = new Set(
        await Promise.all(
          [k.meta, k.log, k.idem + 'k', e.storage.busChannel(ch)].map((key) =>
            cli(cluster.primaries[0]!.port, 'CLUSTER', 'KEYSLOT', key),
          ),
        ),
      );
      t.equal(slots.size, 1, `${ch}: meta, log, idempotency key and bus channel share one slot`);
      owners.add(await cluster.ownerOf(k.meta));
    }
    t.equal(owners.size, 3, 'the channels live on all 3 primaries');
  });

  t.test(
    'a pattern subscription receives the channels under its literal first segment; a leading wildcard is refused',
    async (t) => {
      const a = engine();
      const b = engine();
      const got: string[] = [];
      let interrupted = 0;
      await a.broker.start({ message: (m) => got.push(`${m.channel}@${m.offset}`), interrupted: () => interrupted++ });
      await b.broker.start({ message: () => {}, interrupted: () => {} });
      t.teardown(async () => {
        for (const e of [a, b]) {
          await e.broker.close();
          await e.storage.close();
        }
      });
      await a.broker.subscribe('pf.*');
      await a.broker.subscribe('pf.exact');
      for (const ch of ['pf.one', 'pf.two', 'pf.exact', 'pf.deep.no', 'other.one'])
        await b.storage.append(ch, '"x"', { size: 10, ttl: 60_000 });
      await b.storage.append('pf.last', '"x"', { size: 10, ttl: 60_000 });
      const end = Date.now() + 5_000;
      while (!got.includes('pf.last@1') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      t.same(
        got.sort(),
        ['pf.exact@1', 'pf.last@1', 'pf.one@1', 'pf.two@1'],
        'each matching channel once (pf.exact once although exact and pattern match), nothing else',
      );
      await t.rejects(
        a.broker.subscribe('*.one'),
        /literal first segment/,
        'a pattern starting with a wildcard is refused with the reason',
      );
      t.equal(interrupted, 0);
    },
  );
}
