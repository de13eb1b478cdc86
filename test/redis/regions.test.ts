// Regions: region A holds the Redis primary, region B a replica of it, with 40 ms each way on
// every cross-region link (tests' own delay proxy). Two switchyard nodes per region; region
// B's nodes read from the replica and write to the primary. QoS 1 subscribers and publishers
// in both regions; a client moves from region A to region B while the replica lags.
import t from 'tap';
import { createClient } from 'redis';
import { startServer } from '../helpers/server.js';
import { connect, type Client } from '../../adapters/client-node.js';
import { redisEngine } from '../../adapters/redis/index.js';
import { SwitchyardError } from '../../lib/errors.js';
import type { Discontinuity } from '../../lib/client/index.js';
import { needRedis, uniqueKeyPrefix } from './helpers.js';
import { startRegions, waitFor } from './regions.js';
import { cli } from './servers.js';

type Tap = { teardown(fn: () => unknown): void };
const DELAY = 40;

/** A client closed in teardown. */
function client(t: Tap, url: string): Client {
  const c = connect(url, { reconnect: { minDelay: 20, maxDelay: 200 } });
  t.teardown(() => c.close());
  return c;
}

/** Offsets a subscriber saw, with its discontinuities. */
interface Seen {
  offsets: number[];
  epochs: Set<string>;
  gaps: Discontinuity[];
}

async function subscriber(t: Tap, url: string, channel: string): Promise<Seen> {
  const seen: Seen = { offsets: [], epochs: new Set(), gaps: [] };
  const sub = client(t, url).subscribe(channel, (m) => void (seen.offsets.push(m.offset), seen.epochs.add(m.epoch)), {
    qos: 1,
  });
  sub.on('discontinuity', (d) => void seen.gaps.push(d));
  await sub.ready;
  return seen;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'a publish on the primary reaches pub/sub subscribers of its replica: PUBLISH and SPUBLISH, from a script too',
    async (t) => {
      const r = await startRegions(t, { delayMs: 0, keyPrefix: uniqueKeyPrefix('rg0') });
      const pub = createClient({ url: r.primary.url });
      const sub = createClient({ url: r.replica.url });
      await Promise.all([pub.connect(), sub.connect()]);
      t.teardown(() => Promise.all([pub.close(), sub.close()]));
      const got: string[] = [];
      await sub.subscribe('plain', (m) => void got.push(`plain ${m}`));
      await sub.sSubscribe('sharded', (m) => void got.push(`sharded ${m}`));
      await pub.publish('plain', 'a');
      await pub.sPublish('sharded', 'b');
      await pub.eval("redis.call('PUBLISH', 'plain', 'c'); redis.call('SPUBLISH', 'sharded', 'd'); return 1", {
        keys: [],
      });
      await waitFor('4 messages on the replica', async () => got.length >= 4, 5_000);
      t.same(
        got,
        ['plain a', 'sharded b', 'plain c', 'sharded d'],
        'the replica delivered every publish of the primary, in order',
      );
    },
  );

  t.test(
    'a client moved from a region-A node to a region-B node recovers: recovered true, nothing lost, duplicated or reordered, while the replica lags',
    async (t) => {
      const r = await startRegions(t, { delayMs: DELAY, keyPrefix: uniqueKeyPrefix('rg1') });
      const hub = { history: { size: 10_000, ttl: 600_000 }, channels: [{ match: '>', clientPublish: true }] };
      const engineB1 = redisEngine(r.nodeB());
      const [a1, a2, b1, b2] = [
        await startServer(t, { engine: redisEngine(r.nodeA()), ...hub }),
        await startServer(t, { engine: redisEngine(r.nodeA()), ...hub }),
        await startServer(t, { engine: engineB1, ...hub }),
        await startServer(t, { engine: redisEngine(r.nodeB()), ...hub }),
      ];
      const ch = 'rg.move';
      const subs = [await subscriber(t, a2.url, ch), await subscriber(t, b2.url, ch)];
      // The client that moves: first on node A1 …
      const moved: number[] = [];
      const movedGaps: Discontinuity[] = [];
      const first = client(t, a1.url);
      const before = first.subscribe(ch, (m) => void moved.push(m.offset), { qos: 1 });
      before.on('discontinuity', (d) => void movedGaps.push(d));
      await before.ready;

      // QoS 1 publishers in both regions, each in its own order.
      const [N_A, N_B] = [60, 20];
      const pubA = client(t, a1.url);
      const pubB = client(t, b1.url);
      const acked: Array<{ offset: number; epoch: string }> = [];
      let paceA = Promise.resolve();
      let releaseA: () => void = () => {};
      const publishing = Promise.all([
        (async () => {
          for (let i = 0; i < N_A; i++) {
            if (i === 30) await paceA;
            acked.push(await pubA.publish(ch, { from: 'A', i }, { qos: 1 }));
          }
        })(),
        (async () => {
          for (let i = 0; i < N_B; i++) acked.push(await pubB.publish(ch, { from: 'B', i }, { qos: 1 }));
        })(),
      ]);
      paceA = new Promise<void>((resolve) => (releaseA = resolve));

      // Stall replication once the moving client has seen some messages; region A keeps going,
      // so the client's position runs ahead of region B's replica.
      await waitFor('the moving client to get 10 messages', async () => moved.length >= 10);
      await r.replication.pause(/PSYNC/i);
      const meta = `${r.nodeA().keyPrefix}{${ch}}:m`;
      const replicaOffset = async () => Number(await cli(r.replica.port, 'HGET', meta, 'o'));
      releaseA();
      await waitFor(
        'the moving client to be ahead of the replica',
        async () => moved.length > 0 && moved.at(-1)! > (await replicaOffset()) + 3,
      );
      // … then it moves to node B1 (its region-A node is gone for it) and resumes from its position.
      await first.close();
      const position = before.position!;
      t.equal(position.offset, moved.at(-1), 'the position is the last message handled');
      const replicaAtMove = await replicaOffset();
      const second = client(t, b1.url);
      const after = second.subscribe(ch, (m) => void moved.push(m.offset), { qos: 1, since: position });
      after.on('discontinuity', (d) => void movedGaps.push(d));
      // The resubscribe waits for the replica: let replication go on once it does.
      const waitedBefore = engineB1.storage.replicaReads!.stats.waited;
      await waitFor(
        'the region-B node to wait for its replica',
        async () => engineB1.storage.replicaReads!.stats.waited > waitedBefore,
        5_000,
      );
      await r.replication.resume();
      const result = await after.ready;
      t.equal(
        result.recovered,
        true,
        `recovered from a region-A position on a region-B node (position ${position.offset}, replica at ${replicaAtMove} when it moved)`,
      );
      t.equal(
        engineB1.storage.replicaReads!.stats.gaveUp,
        0,
        'the replica caught up within catchUpTimeout: the primary did not have to answer',
      );

      await publishing;
      const total = N_A + N_B;
      t.same(
        acked.map((a) => a.offset).sort((x, y) => x - y),
        range(1, total),
        'every publish was acknowledged with its own offset',
      );
      await waitFor(
        'every subscriber to get every message',
        async () => [...subs.map((s) => s.offsets), moved].every((o) => o.length >= total),
        20_000,
      );
      t.same(moved, range(1, total), 'the moved client: every message once, in order, across the move');
      t.same(movedGaps, [], 'the moved client saw no discontinuity');
      for (const [i, s] of subs.entries()) {
        t.same(s.offsets, range(1, total), `region ${'AB'[i]} subscriber: every message once, in order`);
        t.same(s.gaps, [], `region ${'AB'[i]} subscriber: no discontinuity`);
        t.equal(s.epochs.size, 1, `region ${'AB'[i]} subscriber: one epoch`);
      }
    },
  );

  t.test(
    'a position from the future or another epoch is answered at once on a region-B node, not after the catch-up wait',
    async (t) => {
      const r = await startRegions(t, { delayMs: DELAY, keyPrefix: uniqueKeyPrefix('rg2') });
      const a = await startServer(t, { engine: redisEngine(r.nodeA()) });
      const b = await startServer(t, {
        engine: redisEngine(r.nodeB({ replica: { url: r.replica.url, catchUpTimeout: 10_000 } })),
      });
      const ch = 'rg.bogus';
      const p = await a.hub.publish(ch, { i: 1 });
      const c = client(t, b.url);
      const t0 = Date.now();
      const res = await c.subscribe(ch, () => {}, { qos: 1, since: { offset: 50, epoch: p.epoch } }).ready;
      const res2 = await c.subscribe('rg.bogus2', () => {}, { qos: 1, since: { offset: 1, epoch: 'not-an-epoch' } })
        .ready;
      const ms = Date.now() - t0;
      t.same(
        [res.recovered, res.reason, res2.recovered],
        [false, 'reset', false],
        'both are told their position is gone',
      );
      t.ok(ms < 5_000, `answered in ${ms} ms, well below catchUpTimeout (10 s)`);
    },
  );

  t.test(
    'waitForReplicas: a publish is acknowledged once the replica has it; with replication stalled it fails with 201 although stored',
    async (t) => {
      const r = await startRegions(t, { delayMs: 5, keyPrefix: uniqueKeyPrefix('rg3') });
      const a = await startServer(t, {
        engine: redisEngine(r.nodeA({ waitForReplicas: { replicas: 1, timeout: 300 } })),
      });
      const ch = 'rg.wait';
      const p = await a.hub.publish(ch, { i: 1 });
      const meta = `${r.nodeA().keyPrefix}{${ch}}:m`;
      t.equal(
        Number(await cli(r.replica.port, 'HGET', meta, 'o')),
        p.offset,
        'the replica had the message when the publish was acknowledged',
      );
      await r.replication.pause(/PSYNC/i);
      const err = await a.hub.publish(ch, { i: 2 }).catch((e: unknown) => e);
      t.ok(err instanceof SwitchyardError && err.code === 201, `201 when no replica confirms in time (${String(err)})`);
      await r.replication.resume();
      t.equal((await a.hub.history(ch)).position.offset, 2, 'the primary stored it all the same');
    },
  );

  t.test('the engine refuses region options it cannot honour, saying what to do', async (t) => {
    const bad: Array<[string, object]> = [
      ['replica', { replica: { url: 'localhost:6379' } }],
      ['replica', { replica: 'redis://127.0.0.1:6380' }],
      ['replica.catchUpTimeout', { replica: { url: 'redis://127.0.0.1:6380', catchUpTimeout: -1 } }],
      [
        'replica',
        { replica: { url: 'redis://127.0.0.1:6380' }, cluster: { rootNodes: [{ url: 'redis://127.0.0.1:7000' }] } },
      ],
      ['waitForReplicas', { waitForReplicas: { replicas: 0, timeout: 100 } }],
      ['waitForReplicas', { waitForReplicas: { replicas: 1 } }],
      [
        'sentinel.nodeAddressMap',
        { sentinel: { name: 'm', sentinelRootNodes: [{ host: 'h', port: 1 }], nodeAddressMap: { 'h:1': 'h:2' } } },
      ],
    ];
    for (const [name, o] of bad)
      t.throws(
        () => redisEngine(o as never),
        { code: 150, message: new RegExp(name.replace('.', '\\.')) },
        `${name}: ${JSON.stringify(o)}`,
      );
  });
}
