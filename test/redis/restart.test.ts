// Redis itself restarts (our own redis-server without persistence, never the machine's):
// publishes fail fast while it is down, and afterwards every subscriber on every node learns
// that continuity was lost (new epoch) — never a silent gap.
import t from 'tap';
import { until } from '../helpers/server.js';
import { Switchyard } from '../../lib/hub.js';
import { SwitchyardError } from '../../lib/errors.js';
import { redisEngine } from '../../adapters/redis/index.js';
import type { Discontinuity } from '../../lib/client/index.js';
import { needRedis, ownRedis, uniqueKeyPrefix } from './helpers.js';
import { failoverClient, startNode } from './nodes.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'after a Redis restart without persistence every subscriber gets a discontinuity and the stream continues in a new epoch',
    async (t) => {
      const redis = await ownRedis(t);
      const prefix = uniqueKeyPrefix('restart');
      const [a, b] = await Promise.all([startNode(t, redis.url, prefix), startNode(t, redis.url, prefix)]);
      const urls = [a.url, b.url];
      const engine = redisEngine({ url: redis.url, keyPrefix: prefix, connectTimeout: 2_000 });
      const pub = new Switchyard({ engine });
      t.teardown(() => pub.close());

      type Seen = { offsets: Array<[string, number]>; events: Array<Discontinuity | { msg: [string, number] }> };
      const seen: Seen[] = [];
      for (const first of [0, 1]) {
        const c = failoverClient(t, urls, first);
        const s: Seen = { offsets: [], events: [] };
        seen.push(s);
        const sub = c.subscribe(
          'feed.r',
          (m) => {
            s.offsets.push([m.epoch, m.offset]);
            s.events.push({ msg: [m.epoch, m.offset] });
          },
          { qos: 1 },
        );
        sub.on('discontinuity', (d) => s.events.push(d));
        await sub.ready;
      }

      const before = [];
      for (let i = 1; i <= 20; i++) before.push(await pub.publish('feed.r', { i }));
      const e1 = before[0]!.epoch;
      await until(() => seen.every((s) => s.offsets.length === 20), 10_000);

      await redis.stop();
      const t0 = performance.now();
      const err = await pub.publish('feed.r', { i: 'lost?' }).catch((e: unknown) => e);
      const took = performance.now() - t0;
      t.ok(
        err instanceof SwitchyardError && err.code === 201,
        'a publish while Redis is down fails with 201 ENGINE_UNAVAILABLE',
      );
      t.ok(took < 1_000, `and fails fast (${took.toFixed(0)} ms), not after a queue drained`);

      await redis.start();
      // Every node re-checks its subscriptions once its bus is back: the new epoch is reported.
      await until(() => seen.every((s) => s.events.some((e) => 'reason' in e)), 15_000);
      let e2 = '';
      const deadline = Date.now() + 10_000;
      for (let i = 1; i <= 10; ) {
        const r = await pub.publish('feed.r', { after: i }).catch(() => undefined);
        if (!r) {
          // The publisher's own connection may still be reconnecting: yield to it, bounded.
          if (Date.now() > deadline) throw new Error('publisher never reconnected to Redis');
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        e2 = r.epoch;
        i++;
      }
      t.not(e2, e1, 'the stream has a new epoch');
      await until(() => seen.every((s) => s.offsets.filter(([ep]) => ep === e2).length === 10), 10_000);
      for (const [k, s] of seen.entries()) {
        const firstNew = s.events.findIndex((e) => 'msg' in e && e.msg[0] === e2);
        const disc = s.events.findIndex((e) => 'reason' in e);
        t.ok(
          disc >= 0 && disc < firstNew,
          `subscriber on node ${k ? 'B' : 'A'} was told about the discontinuity before any message of the new epoch`,
        );
        t.same(
          s.offsets.filter(([ep]) => ep === e1).map(([, o]) => o),
          Array.from({ length: 20 }, (_, i) => i + 1),
          'old epoch: 1..20',
        );
        t.same(
          s.offsets.filter(([ep]) => ep === e2).map(([, o]) => o),
          Array.from({ length: 10 }, (_, i) => i + 1),
          'new epoch: 1..10, nothing missing',
        );
      }

      // A client resuming from the old position on either node is told it cannot recover (reset),
      // and gets the new epoch from its start.
      const late = failoverClient(t, urls, 1);
      const lateSeen: number[] = [];
      const res = await late.subscribe('feed.r', (m) => void lateSeen.push(m.offset), {
        qos: 1,
        since: { offset: 20, epoch: e1 },
      }).ready;
      t.equal(res.recovered, false, 'resuming from the lost epoch gives recovered: false');
      t.same(
        [res.reason, res.position],
        ['reset', { offset: 0, epoch: e2 }],
        "reason reset, continuing before the new epoch's first message",
      );
      await until(() => lateSeen.length === 10, 10_000);
      t.same(
        lateSeen,
        Array.from({ length: 10 }, (_, i) => i + 1),
        'then every message of the new epoch',
      );
    },
  );
}
