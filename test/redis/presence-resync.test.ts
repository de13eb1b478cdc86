// Presence events across an interruption of a node's event subscription (one Redis of the
// test's own): the subscriber connection of node A drops and stays away while members join and
// leave on node B; once A is subscribed again its watchers hear exactly what they missed.
import t from 'tap';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { createClient } from 'redis';
import type { PresenceMember } from '../../adapters/client-node.js';
import { redisEngine, type RedisClientLike } from '../../adapters/redis/index.js';
import { connectClient, startServer } from '../helpers/server.js';
import { needRedis, ownRedis, uniqueKeyPrefix } from './helpers.js';
import { EventLog } from '../helpers/event-log.js';

type Tap = { teardown(fn: () => unknown): void };

/**
 * A TCP gate to Redis on `target`: `shut()` drops every connection through it and refuses new
 * ones until `open()` (a subscriber whose link is down, while everything else keeps working).
 */
async function gate(t: Tap, target: number) {
  const sockets = new Set<Socket>();
  let shut = false;
  const server = createServer((down) => {
    if (shut) return void down.destroy();
    const up = new Socket().connect(target, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    down.pipe(up).pipe(down);
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    shut() {
      shut = true;
      for (const s of sockets) s.destroy();
    },
    open() {
      shut = false;
    },
  };
}

const hubOptions = {
  channels: [{ match: 'room.*', presence: true }],
  authenticate: (req: { token?: string }) => ({ name: req.token ?? 'anon' }),
  presenceInfo: (u: unknown) => ({ name: (u as { name: string }).name }),
};

/**
 * Node A (its subscriber connection behind a gate) and node B on one Redis of the test's own, a
 * watcher of `room.1` on A whose events read as "join <name>" / "leave <name>", and members on B.
 */
async function setup(t: Tap) {
  const redis = await ownRedis(t);
  const keyPrefix = uniqueKeyPrefix('presync');
  const link = await gate(t, redis.port);
  // Node A's commands go straight to Redis; its subscriber connection (the client's duplicate)
  // goes through the gate, so shutting the gate interrupts only its events.
  const cmdA = createClient({ url: redis.url, disableOfflineQueue: true });
  cmdA.on('error', () => {});
  const subUrl = `redis://127.0.0.1:${link.port}`;
  (cmdA as unknown as { duplicate(): unknown }).duplicate = () =>
    createClient({ url: subUrl, disableOfflineQueue: true, socket: { reconnectStrategy: () => 20 } });
  t.teardown(() => cmdA.destroy());
  const a = await startServer(t, {
    ...hubOptions,
    engine: redisEngine({ client: cmdA as unknown as RedisClientLike, keyPrefix }),
  });
  const engineB = redisEngine({ url: redis.url, keyPrefix });
  const b = await startServer(t, { ...hubOptions, engine: engineB });

  const alice = await connectClient(t, a.url, { token: 'alice' });
  const watch = alice.subscribe('room.1', () => {}, { presence: true });
  const log = new EventLog<string>('presence events');
  const { got, push } = log;
  // Connection id → name, learnt from the joins, so a leave reads as a name too.
  const ids = new Map<string, string>();
  watch.on('join', (m: PresenceMember) => {
    const name = (m.info as { name: string }).name;
    ids.set(m.connectionId, name);
    push(`join ${name}`);
  });
  watch.on('leave', (m: { connectionId: string }) => push(`leave ${ids.get(m.connectionId) ?? m.connectionId}`));
  /** Resolves once the watcher got `n` events in all. */
  const until = (n: number, ms = 10_000) => log.wait(n, ms);
  /** A member on node B, named by its token; resolves with its subscription once joined. */
  const member = async (name: string) => {
    const c = await connectClient(t, b.url, { token: name });
    const sub = c.subscribe('room.1', () => {});
    await sub.ready;
    return sub;
  };
  /** Names node B lists, once `ok` holds for them (a leave is stored after the unsubscribe reply). */
  const listedOnB = async (ok: (names: string[]) => boolean) => {
    for (;;) {
      const names = (await b.hub.presence('room.1')).members.map((m) => (m.info as { name: string }).name).sort();
      if (ok(names)) return names;
      await new Promise((r) => setImmediate(r));
    }
  };
  await watch.ready;
  return { link, got, until, member, listedOnB, engineB, keyPrefix, redis };
}

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    "after node A's subscriber connection was down, A's watcher hears exactly the joins and leaves it missed, and nothing it knew",
    async (t) => {
      const { link, got, until, member, listedOnB } = await setup(t);
      const bob = await member('bob');
      await member('dan');
      await until(3);
      t.same(got, ['join alice', 'join bob', 'join dan'], 'before the interruption, node B’s joins reach node A');

      link.shut();
      await member('carol');
      bob.unsubscribe();
      t.same(
        await listedOnB((names) => !names.includes('bob')),
        ['alice', 'carol', 'dan'],
        'stored while node A could not hear it',
      );
      t.same(got.length, 3, 'node A heard nothing during the interruption');

      link.open();
      await until(5);
      t.same(got.slice(3).sort(), ['join carol', 'leave bob'], 'once A is subscribed again: the missed join and leave');
      // A marker event after the resynchronization: nothing else (no second join of dan or
      // alice) came before it.
      await member('erin');
      await until(6);
      t.same(got.slice(5), ['join erin'], 'no duplicate of a member node A already knew, and events flow again');
    },
  );

  t.test(
    "members of a node that died while node A's subscriber connection was down leave once A is subscribed again, once each",
    async (t) => {
      const { link, got, until, member, engineB, redis, keyPrefix } = await setup(t);
      await member('bob');
      await until(2);
      link.shut();
      // Node B "dies" (stops refreshing, never says leave) and its liveness key expires.
      await engineB.presence.close();
      const c = createClient({ url: redis.url });
      c.on('error', () => {});
      await c.connect();
      t.teardown(() => c.destroy());
      await c.del(engineB.presence.nodeKey(engineB.presence.nodeId));
      link.open();
      await until(3);
      t.same(got, ['join alice', 'join bob', 'leave bob'], 'its member leaves');
      // A marker event from a live node C: no second leave of bob came before it.
      const nodeC = await startServer(t, { ...hubOptions, engine: redisEngine({ url: redis.url, keyPrefix }) });
      const erin = await connectClient(t, nodeC.url, { token: 'erin' });
      await erin.subscribe('room.1', () => {}).ready;
      await until(4);
      t.same(got.slice(3), ['join erin'], 'the leave came once');
    },
  );
}
