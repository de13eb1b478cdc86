// Presence across two nodes (two hubs in this process, each with its own Redis engine and http
// server) sharing one Redis: cross-node events, shared member lists, and dead-node expiry.
import t from 'tap';
import { createClient } from 'redis';
import type { PresenceMember, Subscription } from '../../adapters/client-node.js';
import { redisEngine, type RedisEngineOptions } from '../../adapters/redis/index.js';
import { connectClient, startServer, type TestServer } from '../helpers/server.js';
import { needRedis, REDIS_URL, uniqueKeyPrefix } from './helpers.js';
import { EventLog } from '../helpers/event-log.js';

type Ev = ['join', PresenceMember] | ['leave', { connectionId: string }];

/** Records presence events of a subscription; `wait(n)` resolves once n have arrived. */
function events(sub: Subscription) {
  const log = new EventLog<Ev>('presence events');
  sub.on('join', (m) => log.push(['join', m]));
  sub.on('leave', (m) => log.push(['leave', m]));
  return { got: log.got, wait: (n: number, ms?: number) => log.wait(n, ms) };
}

const hubOptions = {
  channels: [{ match: 'room.*', presence: true }],
  authenticate: (req: { token?: string }) => ({ name: req.token ?? 'anon' }),
  presenceInfo: (u: unknown) => ({ name: (u as { name: string }).name }),
};

/** Runs `fn` against a fresh Redis connection. */
const redisClient = () => createClient({ url: REDIS_URL });

async function withRedis<T>(fn: (c: ReturnType<typeof redisClient>) => Promise<T>): Promise<T> {
  const c = redisClient();
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** Two nodes on one fresh key prefix; the prefix's keys are deleted once both hubs closed. */
async function twoNodes(t: { teardown(fn: () => unknown): void }, options: RedisEngineOptions = {}) {
  const keyPrefix = uniqueKeyPrefix('presence');
  const engines = [
    redisEngine({ url: REDIS_URL, keyPrefix, ...options }),
    redisEngine({ url: REDIS_URL, keyPrefix, ...options }),
  ];
  const nodes: TestServer[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.hub.close()));
    await withRedis(async (c) => {
      for await (const keys of c.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 }))
        if (keys.length) await c.del(keys);
    });
  });
  for (const engine of engines) nodes.push(await startServer(t, { ...hubOptions, engine }));
  return { a: nodes[0], b: nodes[1], engineA: engines[0], engineB: engines[1], keyPrefix };
}

const names = (ms: { info?: unknown }[]) => ms.map((m) => (m.info as { name: string }).name).sort();

t.test('presence timing options are validated with 150 and a hint', async (t) => {
  const code = (o: RedisEngineOptions) => {
    try {
      redisEngine(o);
      return 'accepted';
    } catch (err) {
      return (err as { code: number; message: string }).code + ' ' + (err as Error).message;
    }
  };
  t.match(code({ presenceTtl: 0 }), /^150 .*presenceTtl/);
  t.match(code({ presenceTtl: 1.5 }), /^150 .*presenceTtl/);
  t.match(code({ presenceRefresh: -1 }), /^150 .*presenceRefresh/);
  t.match(code({ presenceTtl: 1_000, presenceRefresh: 1_000 }), /^150 .*below presenceTtl \(1000\)/);
  t.match(
    code({ presenceTtl: 4_000 }),
    /^150 .*presenceRefresh/,
    'a ttl below the default refresh needs a shorter refresh',
  );
  t.equal(code({ presenceTtl: 3_000, presenceRefresh: 1_000 }), 'accepted');
});

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test(
    'a watcher on node A sees a client on node B join and leave, and both nodes list members of both',
    async (t) => {
      const { a, b } = await twoNodes(t);
      const alice = await connectClient(t, a!.url, { token: 'alice' });
      const bob = await connectClient(t, b!.url, { token: 'bob' });
      const watch = alice.subscribe('room.1', () => {}, { presence: true });
      const ev = events(watch);
      await watch.ready;
      await ev.wait(1);
      const self = ev.got[0]![1] as PresenceMember;

      const bobSub = bob.subscribe('room.1', () => {});
      await bobSub.ready;
      await ev.wait(2);
      t.equal(ev.got[1]![0], 'join');
      const bobMember = ev.got[1]![1] as PresenceMember;
      t.same(bobMember.info, { name: 'bob' }, "node B's join reaches node A with its info");

      for (const [node, hub] of [
        ['A', a!.hub],
        ['B', b!.hub],
      ] as const) {
        const list = await hub.presence('room.1');
        t.same(names(list.members), ['alice', 'bob'], `hub.presence() on node ${node} lists both`);
        t.equal(list.truncated, false);
      }
      t.same(names((await bob.presence('room.1')).members), ['alice', 'bob'], 'a client on node B lists both');

      bobSub.unsubscribe();
      await ev.wait(3);
      t.same(ev.got[2], ['leave', { connectionId: bobMember.connectionId }], "node B's leave reaches node A");
      t.same((await b!.hub.presence('room.1')).members, [self], 'node B lists the member of node A only');

      // A join on node A, then one on node B: Redis relays in publish order, so an echo of A's
      // own join would arrive before B's.
      const carol = await connectClient(t, a!.url, { token: 'carol' });
      await carol.subscribe('room.1', () => {}).ready;
      await bob.subscribe('room.1', () => {}).ready;
      await ev.wait(5);
      t.same(
        ev.got.slice(3).map((e) => [e[0], (e[1] as PresenceMember).info]),
        [
          ['join', { name: 'carol' }],
          ['join', { name: 'bob' }],
        ],
        'each event once: no echo of node A’s own join',
      );
    },
  );

  t.test(
    'a node that stops refreshing is dropped from member lists within its ttl, and watchers on other nodes hear the leave',
    async (t) => {
      const ttl = 600;
      const refresh = 150;
      const { a, b, engineB } = await twoNodes(t, { presenceTtl: ttl, presenceRefresh: refresh });
      const alice = await connectClient(t, a!.url, { token: 'alice' });
      const bob = await connectClient(t, b!.url, { token: 'bob' });
      const watch = alice.subscribe('room.2', () => {}, { presence: true });
      const ev = events(watch);
      await watch.ready;
      await bob.subscribe('room.2', () => {}).ready;
      await ev.wait(2);
      const bobMember = ev.got[1]![1] as PresenceMember;
      t.same(names((await a!.hub.presence('room.2')).members), ['alice', 'bob']);

      // Node B "dies": it stops refreshing and never says leave (its socket stays open).
      const died = Date.now();
      await engineB!.presence.close();
      await ev.wait(3, 10_000);
      const heardAfter = Date.now() - died;
      t.same(
        ev.got[2],
        ['leave', { connectionId: bobMember.connectionId }],
        "node A's watcher hears the dead node's member leave",
      );
      // The liveness key lasts at most ttl after B's last refresh; node A's next sweep finds it gone.
      t.ok(heardAfter < ttl + refresh + 2_000, `leave heard ${heardAfter} ms after the node stopped`);
      t.same(names((await a!.hub.presence('room.2')).members), ['alice'], 'node A no longer lists it');
      t.comment(`dead-node leave heard after ${heardAfter} ms (presenceTtl ${ttl} ms)`);
    },
  );

  t.test('a dead member is never listed once its node key is gone, even before any sweep', async (t) => {
    const { a, b, engineB } = await twoNodes(t);
    const bob = await connectClient(t, b!.url, { token: 'bob' });
    await bob.subscribe('room.3', () => {}).ready;
    t.same(names((await a!.hub.presence('room.3')).members), ['bob']);
    await engineB!.presence.close();
    // As the key's expiry would: the node's liveness key is gone.
    await withRedis((c) => c.del(engineB!.presence.nodeKey(engineB!.presence.nodeId)));
    t.same((await a!.hub.presence('room.3')).members, [], 'not listed');
    // The read deletes it without waiting for the delete; poll the hash until it is empty.
    const end = Date.now() + 5_000;
    while ((await withRedis((c) => c.hLen(engineB!.presence.key('room.3')))) !== 0 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    t.equal(await withRedis((c) => c.hLen(engineB!.presence.key('room.3'))), 0, 'and deleted from Redis by the read');
  });

  t.test(
    'a node whose liveness key vanished (a stall longer than the ttl) stores its members again at its next refresh',
    async (t) => {
      const { a, b, engineB } = await twoNodes(t, { presenceTtl: 2_000, presenceRefresh: 100 });
      const alice = await connectClient(t, a!.url, { token: 'alice' });
      const bob = await connectClient(t, b!.url, { token: 'bob' });
      const watch = alice.subscribe('room.4', () => {}, { presence: true });
      const ev = events(watch);
      await watch.ready;
      await bob.subscribe('room.4', () => {}).ready;
      await ev.wait(2);
      const bobMember = ev.got[1]![1] as PresenceMember;
      // What other nodes do once B's key expired: the key and B's member are gone from Redis.
      await withRedis((c) =>
        c
          .multi()
          .del(engineB!.presence.nodeKey(engineB!.presence.nodeId))
          .hDel(engineB!.presence.key('room.4'), bobMember.connectionId)
          .exec(),
      );
      t.same(names((await a!.hub.presence('room.4')).members), ['alice']);
      await ev.wait(3);
      t.same(ev.got[2], ['join', bobMember], 'node B announces its member again');
      t.same(names((await a!.hub.presence('room.4')).members), ['alice', 'bob'], 'listed again');
    },
  );
}
