// The presence stores (memory, Redis) against the exported presence conformance suite.
import t from 'tap';
import { redisEngine } from '../../adapters/redis/index.js';
import { MemoryPresence } from '../../lib/presence-memory.js';
import { presenceConformance } from '../../lib/testing/index.js';
import { needRedis, presenceOf, REDIS_URL, uniqueKeyPrefix } from '../redis/helpers.js';
import { createClient } from 'redis';

/** Deletes every key under `prefix` (the prefix holds no glob characters). */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await c.del(keys);
  } finally {
    c.destroy();
  }
}

const test = (name: string, fn: () => Promise<void>) => t.test(name, async () => fn());

presenceConformance({
  test,
  name: 'memory presence',
  createPresence: () => new MemoryPresence(),
  capabilities: { sharedBackend: false, events: false, insertionOrder: true },
});

if (await needRedis()) {
  const keyPrefix = uniqueKeyPrefix('conf-presence');
  t.teardown(() => dropKeys(REDIS_URL, keyPrefix));
  presenceConformance({
    test,
    name: 'redis presence',
    // A short ttl so dead nodes vanish quickly in the test; a closed store is a crashed node: all gone.
    createPresence: () =>
      presenceOf(redisEngine({ url: REDIS_URL, keyPrefix, presenceTtl: 400, presenceRefresh: 100 })),
    capabilities: { sharedBackend: true, events: true },
    kill: (store) => store.close(),
    deadNodeWithin: 3_000,
  });
} else t.pass('skipped: Redis is not available');
