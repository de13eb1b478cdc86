// The Redis engine against the exported conformance suites, on the machine's Redis.
import t from 'tap';
import { redisEngine } from '../../adapters/redis/index.js';
import { brokerConformance, storageConformance } from '../../lib/testing/index.js';
import { brokerOf, loseStream, needRedis, REDIS_URL, uniqueKeyPrefix } from '../redis/helpers.js';

const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

if (await needRedis()) {
  const keyPrefix = uniqueKeyPrefix('conf');

  storageConformance({
    test,
    name: 'redis storage',
    createStorage: ({ dedupWindow }) => redisEngine({ url: REDIS_URL, keyPrefix, dedupWindow }).storage,
    capabilities: { sharedBackend: true, ttl: true, idempotency: true },
    // As a restart without persistence would: the stream's keys vanish, the idempotency key survives.
    loseData: loseStream,
  });

  brokerConformance({
    test,
    name: 'redis broker',
    createBroker: () => brokerOf(redisEngine({ url: REDIS_URL, keyPrefix })),
    capabilities: { sharedBackend: true, interestRouting: true },
  });
} else t.pass('skipped: Redis is not available');
