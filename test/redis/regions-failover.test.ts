// Regions failover: region A (the primary) is lost while region B's replica lacks its newest
// acknowledged publishes (replication stalled); the sentinels promote region B's replica. Every
// acknowledged publish reaches region B's QoS 1 subscribers or its loss is signalled to them
// by a discontinuity (a new epoch: the promoted replica's run id is not the one the streams
// were stamped with), and publishing resumes in region B.
import t from 'tap';
import { startServer } from '../helpers/server.js';
import { connect } from '../../adapters/client-node.js';
import { redisEngine } from '../../adapters/redis/index.js';
import { SwitchyardError } from '../../lib/errors.js';
import type { Discontinuity } from '../../lib/client/index.js';
import { needRedis, uniqueKeyPrefix } from './helpers.js';
import { startRegions, waitFor } from './regions.js';
import { cli } from './servers.js';

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    "region A's primary lost, region B's replica promoted: every acknowledged publish delivered or its loss signalled; publishing resumes in region B",
    async (t) => {
      const r = await startRegions(t, { delayMs: 40, keyPrefix: uniqueKeyPrefix('rgf'), sentinels: true });
      const hub = { history: { size: 10_000, ttl: 600_000 } };
      const a1 = await startServer(t, { engine: redisEngine(r.nodeA()), ...hub });
      const [b1, b2] = [
        await startServer(t, { engine: redisEngine(r.nodeB()), ...hub }),
        await startServer(t, { engine: redisEngine(r.nodeB()), ...hub }),
      ];
      const ch = 'rgf.orders';
      const subs: Array<{ got: Array<[string, number]>; gaps: Discontinuity[] }> = [];
      for (const n of [b1, b2]) {
        const c = connect(n.url, { reconnect: { minDelay: 20, maxDelay: 200 } });
        t.teardown(() => c.close());
        const s = { got: [] as Array<[string, number]>, gaps: [] as Discontinuity[] };
        const sub = c.subscribe(ch, (m) => void s.got.push([m.epoch, m.offset]), { qos: 1 });
        sub.on('discontinuity', (d) => void s.gaps.push(d));
        await sub.ready;
        subs.push(s);
      }
      const acked: Array<{ offset: number; epoch: string }> = [];
      for (let i = 0; i < 10; i++)
        acked.push(await a1.hub.publish(ch, { from: 'A', i }), await b1.hub.publish(ch, { from: 'B', i }));
      const epoch0 = acked[0]!.epoch;
      await waitFor('region B to get the first 20', async () => subs.every((s) => s.got.length >= 20));
      // Replication stalls; region A keeps publishing, acknowledged by its primary alone …
      await r.replication.pause(/PSYNC/i);
      for (let i = 10; i < 15; i++) acked.push(await a1.hub.publish(ch, { from: 'A', i }));
      const meta = `${r.nodeA().keyPrefix}{${ch}}:m`;
      t.equal(
        Number(await cli(r.replica.port, 'HGET', meta, 'o')),
        20,
        'the replica lacks the last 5 acknowledged publishes',
      );
      // … and region A's primary is lost.
      await r.primary.stop();
      await r.replication.resume();
      await waitFor(
        "the sentinels to promote region B's replica",
        async () => (await r.primaryPort()) === r.replica.port,
        30_000,
      );
      // Nothing is published yet: region B's nodes re-check their subscriptions once the primary
      // changed, and the subscribers learn of the loss from that alone.
      await waitFor(
        'both region B subscribers to be told of a new epoch',
        async () => subs.every((s) => s.gaps.some((d) => d.position.epoch !== epoch0)),
        15_000,
      );
      t.pass('region B subscribers were told of the loss before anything new was published');

      let failed = 0;
      let first: { offset: number; epoch: string } | undefined;
      const end = Date.now() + 30_000;
      while (!first && Date.now() < end) {
        try {
          first = await b1.hub.publish(ch, { from: 'B', i: 'after' });
        } catch (err) {
          if (!(err instanceof SwitchyardError && err.code === 201)) throw err;
          failed++;
          await new Promise((res) => setTimeout(res, 50));
        }
      }
      t.ok(first, `publishing resumed in region B after the failover (${failed} tries failed with 201 meanwhile)`);
      t.equal(await r.primaryPort(), r.replica.port, "the sentinels promoted region B's replica");
      acked.push(first!);
      for (let i = 0; i < 4; i++) acked.push(await b2.hub.publish(ch, { from: 'B', i: `after ${i}` }));
      const epoch1 = first!.epoch;
      t.not(epoch1, epoch0, 'the stream continues in a new epoch on the promoted replica');
      t.same(
        acked.filter((a) => a.epoch === epoch1).map((a) => a.offset),
        [1, 2, 3, 4, 5],
        'the new epoch starts at 1',
      );

      await waitFor(
        'region B subscribers to get the new epoch',
        async () => subs.every((s) => s.got.at(-1)?.[0] === epoch1 && s.got.at(-1)?.[1] === 5),
        30_000,
      );
      for (const [k, s] of subs.entries()) {
        const old = s.got.filter(([e]) => e === epoch0).map(([, o]) => o);
        const now = s.got.filter(([e]) => e === epoch1).map(([, o]) => o);
        t.same(
          old,
          Array.from({ length: old.length }, (_, i) => i + 1),
          `subscriber ${k}: the old epoch in order, no duplicate`,
        );
        const reset = s.gaps.find((d) => d.position.epoch === epoch1);
        // Every acknowledged publish of the old epoch it did not get is covered by the reset.
        const missing = acked.filter((a) => a.epoch === epoch0 && !old.includes(a.offset)).map((a) => a.offset);
        t.ok(
          reset,
          `subscriber ${k}: told of the new epoch (${s.gaps.map((d) => `${d.reason} at ${d.position.offset}`).join(', ')}); the ${missing.length} acknowledged publishes it lacks (${missing.join(',')}) are signalled lost`,
        );
        t.same(missing, [21, 22, 23, 24, 25], `subscriber ${k}: only the publishes the replica never had are missing`);
        const from = reset?.position.offset ?? 0;
        t.same(
          now.filter((o) => o > from),
          Array.from({ length: 5 - from }, (_, i) => from + 1 + i),
          `subscriber ${k}: the new epoch after the signalled position, none lost, duplicated or reordered`,
        );
      }
    },
  );
}
