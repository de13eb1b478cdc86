// Two node processes on one Redis, real sockets: identical order on every node, and failover
// of QoS 1 subscribers from a killed node to the other with nothing lost, duplicated or reordered.
import t from 'tap';
import { once, until } from '../helpers/server.js';
import { Switchyard } from '../../lib/hub.js';
import { redisEngine } from '../../adapters/redis/index.js';
import { needRedis, REDIS_URL, uniqueKeyPrefix } from './helpers.js';
import { failoverClient, startNode, Tally } from './nodes.js';

const history = { size: 10_000, ttl: 600_000, recoveryCap: 10_000 };

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  // One pair of nodes serves both tests (starting node processes is the slow part); the
  // second test kills node A, so it runs last.
  const prefix = uniqueKeyPrefix('cluster');
  const [a, b] = await Promise.all([startNode(t, REDIS_URL, prefix), startNode(t, REDIS_URL, prefix)]);
  const urls = [a.url, b.url];

  t.test('clients on two nodes see every message of a channel in the same offset order', async (t) => {
    const tallies: Tally[] = [];
    for (let i = 0; i < 4; i++) {
      const c = failoverClient(t, urls, i % 2);
      const tally = new Tally();
      tallies.push(tally);
      await c.subscribe('pub.order', (m) => tally.add(m.offset, m.data), { qos: 1 }).ready;
    }
    const publishers = [failoverClient(t, urls, 0), failoverClient(t, urls, 1)];
    const perPublisher = 300;
    await Promise.all(
      publishers.map(async (p, k) => {
        for (let i = 0; i < perPublisher; i += 50) {
          await Promise.all(Array.from({ length: 50 }, (_, j) => p.publish('pub.order', { k, i: i + j }, { qos: 1 })));
        }
      }),
    );
    const n = 2 * perPublisher;
    await until(() => tallies.every((x) => x.offsets.length >= n), 15_000);
    for (const x of tallies) {
      t.same(x.check(n), { lost: 0, duplicated: 0, reordered: 0 }, 'nothing lost, duplicated or reordered');
      t.same(
        x.offsets,
        Array.from({ length: n }, (_, i) => i + 1),
        'offsets 1..n in order',
      );
      t.same(x.data, tallies[0]!.data, 'same message at each offset on every node');
    }
    for (const k of [0, 1]) {
      const mine = tallies[0]!.data.filter((d) => (d as { k: number }).k === k);
      t.equal(mine.length, perPublisher, `every message of publisher ${k} stored once`);
    }
  });

  t.test(
    'QoS 1 subscribers of a killed node fail over to the other node with 0 lost, 0 duplicated, 0 reordered',
    async (t) => {
      // A third node, in this process, publishes steadily through the same Redis.
      const pub = new Switchyard({ engine: redisEngine({ url: REDIS_URL, keyPrefix: prefix }), history });
      t.teardown(() => pub.close());

      const onA: Tally[] = [];
      const onB: Tally[] = [];
      const reconnects: number[] = [];
      const discontinuities: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        const first = i < 3 ? 0 : 1;
        const c = failoverClient(t, urls, first);
        await once(c, 'connected');
        let connects = 0;
        c.on('connected', () => (reconnects[i] = ++connects));
        const tally = new Tally();
        (first === 0 ? onA : onB).push(tally);
        const sub = c.subscribe(
          'feed.kill',
          async (m) => {
            // A handler that takes a moment, so unacknowledged messages are in flight at the kill.
            if (m.offset % 25 === 0) await new Promise((r) => setImmediate(r));
            tally.add(m.offset, m.data);
          },
          { qos: 1 },
        );
        sub.on('discontinuity', (d) => discontinuities.push(d));
        await sub.ready;
      }

      const n = 600;
      let published = 0;
      const publishing = (async () => {
        for (let i = 1; i <= n; i++) {
          await pub.publish('feed.kill', { i });
          published = i;
          // Paced so the kill lands mid-stream rather than after the last message.
          if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await until(() => onA.every((x) => x.offsets.length >= 150), 10_000);
      await a.kill();
      const killedAt = published;
      await publishing;
      await until(() => [...onA, ...onB].every((x) => x.offsets.length >= n), 20_000);
      t.ok(killedAt < n, `node A was killed mid-stream (after ${killedAt} of ${n} messages)`);
      for (const [i, x] of [...onA, ...onB].entries()) {
        t.same(
          x.check(n),
          { lost: 0, duplicated: 0, reordered: 0 },
          `subscriber ${i} (${i < onA.length ? 'failed over from A' : 'on B'}): 0 lost, 0 duplicated, 0 reordered`,
        );
      }
      t.ok(
        reconnects.slice(0, 3).every((r) => r >= 1),
        'every client of node A reconnected (to node B)',
      );
      t.same(discontinuities, [], 'recovery was complete: no discontinuity reported');
    },
  );
}
