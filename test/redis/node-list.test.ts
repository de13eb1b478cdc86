// The node list over a real Redis: hubs sharing a Redis engine list each other (status, metrics,
// the admin page's Nodes table), and a hub that closes is dropped by the others at once.
import t from 'tap';
import { until } from '../helpers/server.js';
import { Switchyard } from '../../lib/hub.js';
import { needRedis, REDIS_URL, uniqueKeyPrefix } from './helpers.js';
import { redisEngine } from '../../adapters/redis/index.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test('hubs on one Redis list each other, and drop a hub that closes', async (t) => {
    const keyPrefix = uniqueKeyPrefix('nodes');
    const hubs = [0, 1, 2].map(() => new Switchyard({ engine: redisEngine({ url: REDIS_URL, keyPrefix }) }));
    t.teardown(() => Promise.all(hubs.map((h) => h.close())));
    // Hubs announce when they start, every 5 s, and when they hear a new node, so a newcomer
    // learns the others without waiting for a period.
    await until(() => hubs.every((h) => h.metrics().clusterNodes === 3), 4_000);
    const ids = hubs.map((h) => h.nodes.id).sort();
    for (const h of hubs) t.same((await h.status()).nodes.map((n) => n.id).sort(), ids, 'each hub lists all three');
    const other = new Switchyard({
      engine: redisEngine({ url: REDIS_URL, keyPrefix: uniqueKeyPrefix('nodes-other') }),
    });
    t.teardown(() => other.close());
    await until(() => other.nodes.list().length === 1);
    t.equal(other.metrics().clusterNodes, 1, 'a hub on another key prefix is another cluster');
    await hubs[2]!.close();
    await until(() => hubs[0]!.metrics().clusterNodes === 2 && hubs[1]!.metrics().clusterNodes === 2, 5_000);
    t.notOk(
      hubs[0]!.nodes.list().some((n) => n.id === hubs[2]!.nodes.id),
      'the closed hub said it left',
    );
  });
}
