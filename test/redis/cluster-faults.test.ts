// Faults of a real Redis Cluster (3 primaries + 3 replicas, started by the test) under two
// switchyard nodes with QoS 1 subscribers: a live channel's slot is resharded to another
// primary, and a shard's primary is killed so its replica is promoted. Nothing is lost,
// duplicated or reordered; what a failover loses is signalled.
import t from 'tap';
import type { Switchyard } from '../../lib/hub.js';
import { startServer } from '../helpers/server.js';
import { SwitchyardError } from '../../lib/errors.js';
import { redisEngine } from '../../adapters/redis/index.js';
import { connect } from '../../adapters/client-node.js';
import type { Discontinuity } from '../../lib/client/index.js';
import { needRedis, uniqueKeyPrefix } from './helpers.js';
import { cli, startCluster } from './servers.js';

type Tap = { teardown(fn: () => unknown): void };

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  const cluster = await startCluster(t, 1);
  const keyPrefix = uniqueKeyPrefix('clf');

  const node = (t: Tap) =>
    startServer(t, {
      engine: redisEngine({ cluster: { rootNodes: cluster.rootNodes }, keyPrefix, connectTimeout: 2_000 }),
      history: { size: 1_000, ttl: 600_000 },
      channels: [{ match: 'room.*', presence: true }],
    });

  interface Seen {
    msgs: Array<[string, number]>;
    resets: Discontinuity[];
  }
  async function subscribers(t: Tap, urls: string[], channel: string): Promise<Seen[]> {
    const all: Seen[] = [];
    for (const url of urls) {
      const c = connect(url, { reconnect: { minDelay: 20, maxDelay: 200 } });
      t.teardown(() => c.close());
      const s: Seen = { msgs: [], resets: [] };
      all.push(s);
      const sub = c.subscribe(channel, (m) => void s.msgs.push([m.epoch, m.offset]), { qos: 1 });
      sub.on('discontinuity', (d) => s.resets.push(d));
      await sub.ready;
    }
    return all;
  }

  /** Publishes `data` with an idempotency key, retrying 201s (as a QoS 1 publisher does). */
  async function publish(
    hub: Switchyard,
    channel: string,
    i: number,
  ): Promise<{ offset: number; epoch: string; retries: number }> {
    for (let retries = 0; ; retries++) {
      try {
        return { ...(await hub.publish(channel, { i }, { idempotencyKey: `k${i}` })), retries };
      } catch (err) {
        if (!(err instanceof SwitchyardError && err.code === 201) || retries > 1200) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  async function waitFor(cond: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  }

  t.test(
    'resharding the slot of a live channel loses, duplicates and reorders nothing, and keeps the epoch',
    async (t) => {
      const [a, b] = [await node(t), await node(t)];
      const ch = 'live.reshard';
      const seen = await subscribers(t, [a.url, b.url, a.url], ch);
      const e = a.hub as unknown as { engine: { storage: { keys(c: string): { meta: string } } } };
      const meta = e.engine.storage.keys(ch).meta;
      const slot = Number(await cli(cluster.primaries[0]!.port, 'CLUSTER', 'KEYSLOT', meta));
      const srcPort = await cluster.ownerOf(meta);
      const dstPort = cluster.primaries.map((p) => p.port).find((p) => p !== srcPort)!;
      const [srcId, dstId] = await Promise.all([cli(srcPort, 'CLUSTER', 'MYID'), cli(dstPort, 'CLUSTER', 'MYID')]).then(
        (ids) => ids.map((x) => x.trim()),
      );

      const n = 300;
      let published = 0;
      let epoch = '';
      const publishing = (async () => {
        for (let i = 1; i <= n; i++) {
          const r = await publish(i % 2 ? a.hub : b.hub, ch, i);
          if (i === 1) epoch = r.epoch;
          if (r.epoch !== epoch) t.fail(`publish ${i} in another epoch`);
          published = i;
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await waitFor(() => published >= 100, 20_000);
      // Move the slot: importing on the target, migrating on the source, keys over, then assign.
      await cli(dstPort, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', srcId!);
      await cli(srcPort, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', dstId!);
      for (let round = 0; round < 50; round++) {
        const keys = (await cli(srcPort, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100'))
          .trim()
          .split('\n')
          .filter(Boolean);
        if (keys.length === 0) break;
        await cli(srcPort, 'MIGRATE', '127.0.0.1', String(dstPort), '', '0', '5000', 'KEYS', ...keys);
      }
      for (const p of cluster.primaries) await cli(p.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', dstId!);
      const movedAt = published;
      await publishing;
      t.equal(await cluster.ownerOf(meta), dstPort, 'the channel now lives on another primary');
      t.ok(movedAt < n, `the slot moved mid-stream (after ${movedAt} of ${n} publishes)`);
      await waitFor(() => seen.every((s) => s.msgs.length >= n), 20_000);
      for (const [k, s] of seen.entries()) {
        t.same(
          s.msgs.map(([, o]) => o),
          Array.from({ length: n }, (_, i) => i + 1),
          `subscriber ${k}: 1..${n}, nothing lost, duplicated or reordered`,
        );
        t.ok(
          s.msgs.every(([e]) => e === epoch),
          `subscriber ${k}: one epoch throughout`,
        );
        t.same(s.resets, [], `subscriber ${k}: no discontinuity`);
      }
    },
  );

  t.test(
    'killing a shard primary: its replica takes over, publishes resume, and subscribers are told the stream started over',
    async (t) => {
      const [a, b] = [await node(t), await node(t)];
      const ch = 'live.failover';
      const seen = await subscribers(t, [a.url, b.url], ch);
      const e = a.hub as unknown as { engine: { storage: { keys(c: string): { meta: string } } } };
      const meta = e.engine.storage.keys(ch).meta;
      for (let i = 1; i <= 10; i++) await publish(a.hub, ch, i);
      const first = (await a.hub.history(ch, { limit: 1 })).position.epoch;
      const owner = await cluster.ownerOf(meta);
      await cluster.server(owner).stop();
      const after = await publish(b.hub, ch, 11);
      t.ok(after.retries > 0, `publishes failed with 201 until the replica was promoted (${after.retries} retries)`);
      t.not(await cluster.ownerOf(meta), owner, 'another server owns the slot now');
      for (let i = 12; i <= 20; i++) await publish(i % 2 ? a.hub : b.hub, ch, i);
      const final = (await a.hub.history(ch, { limit: 1 })).position.epoch;
      t.not(final, first, 'the stream continues in a new epoch');
      const last = (await a.hub.history(ch, { limit: 1 })).position.offset;
      await waitFor(() => seen.every((s) => s.msgs.some(([x, o]) => x === final && o === last)), 15_000);
      for (const [k, s] of seen.entries()) {
        t.same(
          s.msgs.filter(([x]) => x === first).map(([, o]) => o),
          Array.from({ length: 10 }, (_, i) => i + 1),
          `subscriber ${k}: first epoch 1..10`,
        );
        const d = s.resets.at(-1);
        t.ok(
          d && d.position.epoch === final,
          `subscriber ${k} was told (${s.resets.map((x) => `${x.reason} at ${x.position.offset}`).join(', ')})`,
        );
        const from = d?.position.offset ?? 0;
        t.same(
          s.msgs.filter(([x, o]) => x === final && o > from).map(([, o]) => o),
          Array.from({ length: last - from }, (_, i) => from + 1 + i),
          `subscriber ${k}: new epoch ${from + 1}..${last} after the signalled position, none lost, duplicated or reordered`,
        );
      }
    },
  );

  t.test(
    'killing a shard primary: every join made on another node during the failover reaches presence watchers, and events flow once its replica took over',
    async (t) => {
      const [a, b] = [await node(t), await node(t)];
      const store = (a.hub as unknown as { engine: { presence: { key(c: string): string } } }).engine.presence;
      // A channel on a shard that still has its replica (the test above used up one shard's).
      const running = new Set(
        cluster.primaries.filter((p) => p.proc?.exitCode === null && p.proc?.signalCode === null).map((p) => p.port),
      );
      let ch = '';
      for (let i = 0; !ch && i < 100; i++)
        if (running.has(await cluster.ownerOf(store.key(`room.${i}`)))) ch = `room.${i}`;
      t.ok(ch, `channel ${ch} lives on a primary that has a replica`);

      const watcher = connect(a.url, { reconnect: { minDelay: 20, maxDelay: 200 } });
      t.teardown(() => watcher.close());
      const events: string[] = [];
      const watch = watcher.subscribe(ch, () => {}, { presence: true });
      watch.on('join', (m) => void events.push(`join ${m.connectionId}`));
      watch.on('leave', (m) => void events.push(`leave ${m.connectionId}`));
      await watch.ready;
      /** A member on node B: connects, subscribes (joins), and returns its connection id and a way to leave. */
      const member = async () => {
        const c = connect(b.url, { reconnect: false });
        t.teardown(() => c.close());
        const connected = new Promise<string>((resolve) => c.once('connected', (info) => resolve(info.connectionId)));
        const sub = c.subscribe(ch, () => {});
        try {
          await sub.ready;
        } catch (err) {
          c.close();
          throw err;
        }
        return { id: await connected, leave: () => sub.unsubscribe() };
      };

      const before = await member();
      await waitFor(() => events.includes(`join ${before.id}`), 10_000);
      t.ok(events.includes(`join ${before.id}`), 'before the failover, a join on node B reaches the watcher on node A');

      // Node A's subscriber client learns the new slot map (and so can subscribe on the promoted
      // replica) only once node B stored some joins there, as a node slower to notice the
      // failover (e.g. under load) would: joins that no subscription of A's carried, which A's
      // resynchronization must announce. (node-redis reads the slot map in `_slots.rediscover`,
      // as RedisConnection.refreshTopology calls it.)
      type Slots = { rediscover(...args: unknown[]): Promise<unknown> };
      type Client = { _self?: { _slots?: Slots }; _slots?: Slots };
      const sub = (store as unknown as { conn: { sub: Client } }).conn.sub;
      const slots = (sub._self ?? sub)._slots!;
      const rediscover = slots.rediscover.bind(slots);
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      slots.rediscover = (...args) => held.then(() => rediscover(...args));
      t.teardown(release);

      const owner = await cluster.ownerOf(store.key(ch));
      await cluster.server(owner).stop();
      // Joins fail with 201 until the replica is promoted.
      const joined: Array<{ id: string; leave(): void }> = [];
      const seen = (m: { id: string }) => events.includes(`join ${m.id}`);
      let refused = 0;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && joined.length < 3) {
        const m = await member().catch(() => undefined);
        if (m) joined.push(m);
        else {
          refused++;
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      t.not(await cluster.ownerOf(store.key(ch)), owner, 'another server owns the presence slot now');
      t.equal(joined.length, 3, `3 members joined on node B once the replica took over (after ${refused} refused)`);
      t.same(joined.filter(seen), [], 'node A, not subscribed on the promoted replica yet, heard none of them');
      release();
      await waitFor(() => joined.every(seen), 20_000);
      t.same(
        joined.filter((m) => !seen(m)).map((m) => m.id),
        [],
        'once node A re-subscribed, every join stored during the failover reached its watcher (0 missed)',
      );
      t.equal(
        events.filter((e) => e === `join ${before.id}`).length,
        1,
        'the member node A knew before the failover is not announced again',
      );
      // A member joining now is announced by the event subscription on the promoted replica.
      const after = await member();
      await waitFor(() => seen(after), 10_000);
      t.ok(seen(after), 'after the failover, a join on node B reaches the watcher on node A');
      after.leave();
      await waitFor(() => events.includes(`leave ${after.id}`), 20_000);
      t.ok(events.includes(`leave ${after.id}`), 'and so does its leave');
    },
  );
}
