// The fault test of issue 9: Redis (our own redis-server, no persistence) restarts mid-stream
// while QoS 1 publishers on two nodes publish at 30/s each and QoS 1 subscribers on both nodes
// listen. Every publish is acknowledged exactly once (none rejected), every subscriber gets every
// message of the new epoch, in order, once, and exactly one discontinuity with reason `reset`.
import t from 'tap';
import type { Discontinuity, PublishResult } from '../../lib/client/index.js';
import { until } from '../helpers/server.js';
import { needRedis, ownRedis, uniqueKeyPrefix } from './helpers.js';
import { failoverClient, startNode } from './nodes.js';

const RATE = 30; // publishes per second per publisher
const CH = 'pub.fault';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'Redis restarts without persistence mid-stream: every QoS 1 publish acked once, every subscriber gets the whole new epoch after one reset',
    async (t) => {
      const redis = await ownRedis(t);
      const prefix = uniqueKeyPrefix('reset-fault');
      // The nodes run the default per-connection publish rate (100/s), which retries must respect.
      const env = { PUBLISHES_PER_SECOND: '100' };
      const [a, b] = await Promise.all([startNode(t, redis.url, prefix, env), startNode(t, redis.url, prefix, env)]);
      const urls = [a.url, b.url];

      interface Seen {
        msgs: Array<[string, number]>;
        disc: Discontinuity[];
      }
      const seen: Seen[] = [];
      for (const first of [0, 1, 0, 1]) {
        const c = failoverClient(t, urls, first);
        const s: Seen = { msgs: [], disc: [] };
        seen.push(s);
        const sub = c.subscribe(CH, (m) => void s.msgs.push([m.epoch, m.offset]), { qos: 1 });
        sub.on('discontinuity', (d) => s.disc.push(d));
        await sub.ready;
      }

      const publishers = [failoverClient(t, urls, 0), failoverClient(t, urls, 1)];
      const acks: Array<{ p: number; i: number; settled: number; res?: PublishResult; err?: unknown }> = [];
      let publishing = true;
      const loops = publishers.map(async (c, p) => {
        for (let i = 0; publishing; i++) {
          const rec: (typeof acks)[number] = { p, i, settled: 0 };
          acks.push(rec);
          c.publish(CH, { p, i }, { qos: 1 }).then(
            (res) => void (rec.settled++, (rec.res = res)),
            (err) => void (rec.settled++, (rec.err = err)),
          );
          await new Promise((r) => setTimeout(r, 1_000 / RATE));
        }
      });

      const acked = () => acks.filter((x) => x.res).length;
      await until(() => acked() >= 40, 15_000); // mid-stream
      await redis.stop();
      await new Promise((r) => setTimeout(r, 2_000)); // a 2 s outage; publishers keep publishing
      await redis.start();
      const restartedAt = acks.length;
      await until(() => acks.length >= restartedAt + 2 * RATE, 15_000); // about a second more after the restart
      publishing = false;
      await Promise.all(loops);
      await until(() => acks.every((x) => x.settled > 0), 60_000);

      const failed = acks.filter((x) => x.err);
      t.same(
        failed.map((x) => String(x.err)),
        [],
        `all ${acks.length} publishes acknowledged, none rejected`,
      );
      t.ok(
        acks.every((x) => x.settled === 1),
        'each settled exactly once',
      );
      const positions = new Set(acks.map((x) => `${x.res?.epoch}:${x.res?.offset}`));
      t.equal(positions.size, acks.length, 'no two publishes share a stored position');

      const e2 = acks.at(-1)!.res!.epoch;
      const e1 = acks[0]!.res!.epoch;
      t.not(e2, e1, 'the restart gave the stream a new epoch');
      const last = Math.max(...acks.filter((x) => x.res?.epoch === e2).map((x) => x.res!.offset));
      const expected = Array.from({ length: last }, (_, i) => i + 1);
      await until(() => seen.every((s) => s.msgs.filter(([ep]) => ep === e2).length >= last), 20_000).catch(() => {});
      for (const [k, s] of seen.entries()) {
        const name = `subscriber ${k} (node ${k % 2 ? 'B' : 'A'})`;
        const got = s.msgs.filter(([ep]) => ep === e2).map(([, o]) => o);
        const missing = expected.filter((o) => !got.includes(o));
        t.same(
          got,
          expected,
          `${name}: every message of the new epoch, 1..${last}, once, in order (missing: ${missing.slice(0, 20).join(',')}; got ${got.length})`,
        );
        const old = s.msgs.filter(([ep]) => ep === e1).map(([, o]) => o);
        t.ok(
          old.every((o, i) => o === i + 1),
          `${name}: the old epoch in order without gaps or repeats (${old.length} messages)`,
        );
        t.same(
          s.disc.map((d) => [d.reason, d.position.epoch]),
          [['reset', e2]],
          `${name}: exactly one discontinuity, reason reset`,
        );
      }
    },
  );
}
