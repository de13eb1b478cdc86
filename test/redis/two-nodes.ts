// Two hubs in this process, each with its own Redis engine and http server, on one fresh key
// prefix of the shared Redis; the prefix's keys are deleted once both hubs closed.
import { createClient } from 'redis';
import { redisEngine, type RedisEngineOptions } from '../../adapters/redis/index.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { REDIS_URL, uniqueKeyPrefix } from './helpers.js';

export async function twoRedisNodes(
  t: { teardown(fn: () => unknown): void },
  tag: string,
  hubOptions: SwitchyardOptions,
  engineOptions: RedisEngineOptions = {},
) {
  const keyPrefix = uniqueKeyPrefix(tag);
  const engines = [
    redisEngine({ url: REDIS_URL, keyPrefix, ...engineOptions }),
    redisEngine({ url: REDIS_URL, keyPrefix, ...engineOptions }),
  ];
  const nodes: TestServer[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.hub.close()));
    const c = createClient({ url: REDIS_URL });
    c.on('error', () => {});
    await c.connect();
    try {
      for await (const keys of c.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 }))
        if (keys.length) await c.del(keys);
    } finally {
      c.destroy();
    }
  });
  for (const engine of engines) nodes.push(await startServer(t, { ...hubOptions, engine }));
  return { a: nodes[0]!, b: nodes[1]!, engineA: engines[0]!, engineB: engines[1]! };
}
