// The Redis engine against the exported conformance suites, on the machine's Redis.
import t from 'tap';
import { redisEngine, type RedisStorage } from '../../adapters/redis/index.js';
import { brokerConformance, storageConformance } from '../../lib/testing/index.js';
import { needRedis, REDIS_URL, uniqueKeyPrefix } from '../redis/helpers.js';

const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

if (await needRedis()) {
  const keyPrefix = uniqueKeyPrefix('conf');

  storageConformance({
    test,
    name: 'redis storage',
    createStorage: ({ dedupWindow }) => redisEngine({ url: REDIS_URL, keyPrefix, dedupWindow }).storage,
    capabilities: { sharedBackend: true, ttl: true, idempotency: true },
    // As a restart without persistence would: the stream's keys vanish, the idempotency key survives.
    loseData: async (storage, channel) => {
      const s = storage as RedisStorage;
      const k = s.keys(channel);
      await (s as unknown as { conn: { run(a: string[]): Promise<unknown> } }).conn.run(['DEL', k.meta, k.log]);
    },
  });

  brokerConformance({
    test,
    name: 'redis broker',
    createBroker: () => {
      const e = redisEngine({ url: REDIS_URL, keyPrefix });
      // The broker publishes through the storage's command client; close both with the broker.
      const close = e.broker.close.bind(e.broker);
      e.broker.close = async () => {
        await close();
        await e.storage.close();
      };
      return e.broker;
    },
    capabilities: { sharedBackend: true, interestRouting: true },
  });
} else t.pass('skipped: Redis is not available');
