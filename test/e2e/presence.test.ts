// Presence through the client SDK over real sockets: join/leave events on the Subscription,
// member lists from sub.presence() and client.presence(), errors, and a reconnect.
import t from 'tap';
import type { PresenceMember, Subscription } from '../../adapters/client-node.js';
import { connectClient, once, startServer } from '../helpers/server.js';

const options = {
  channels: [{ match: 'room.*', presence: true }],
  authenticate: (req: { token?: string }) => ({ name: req.token ?? 'anon', password: 'hunter2' }),
  presenceInfo: (u: unknown) => ({ name: (u as { name: string }).name }),
  authorize: (req: { action: string; user: unknown }) =>
    req.action !== 'presence' || (req.user as { name: string }).name !== 'mallory',
};

/** Records presence events of a subscription and resolves waits for a given count. */
function events(sub: Subscription) {
  const got: Array<['join', PresenceMember] | ['leave', { connectionId: string }]> = [];
  const waiters: Array<() => void> = [];
  const push = (e: (typeof got)[number]) => (got.push(e), waiters.splice(0).forEach((w) => w()));
  sub.on('join', (m) => push(['join', m]));
  sub.on('leave', (m) => push(['leave', m]));
  const wait = async (n: number) => {
    while (got.length < n) await new Promise<void>((r) => waiters.push(r));
  };
  return { got, wait };
}

t.test(
  'a subscription with presence: true sees joins and leaves (unsubscribe and disconnect) with info, never the user',
  async (t) => {
    const s = await startServer(t, options);
    const alice = await connectClient(t, s.url, { token: 'alice' });
    const bob = await connectClient(t, s.url, { token: 'bob' });
    const carol = await connectClient(t, s.url, { token: 'carol' });
    const watch = alice.subscribe('room.1', () => {}, { presence: true });
    const ev = events(watch);
    await watch.ready;
    await ev.wait(1);
    const self = ev.got[0]![1] as PresenceMember;
    t.same(self.info, { name: 'alice' }, 'its own join, with the hook’s info');

    const bobSub = bob.subscribe('room.1', () => {});
    await bobSub.ready;
    await carol.subscribe('room.1', () => {}).ready;
    await ev.wait(3);
    const [bobJoin, carolJoin] = ev.got.slice(1, 3).map((e) => e[1] as PresenceMember) as [
      PresenceMember,
      PresenceMember,
    ];
    t.same([bobJoin.info, carolJoin.info], [{ name: 'bob' }, { name: 'carol' }]);

    const list = await watch.presence();
    t.equal(list.truncated, false);
    t.same(
      list.members.map((m) => m.info).sort((a: any, b: any) => a.name.localeCompare(b.name)),
      [{ name: 'alice' }, { name: 'bob' }, { name: 'carol' }],
    );
    t.same(await bob.presence('room.1'), list, 'client.presence() answers the same without asking for events');
    t.notMatch(JSON.stringify(list), /hunter2/, 'the user object with its password is never exposed');

    bobSub.unsubscribe();
    await ev.wait(4);
    t.same(ev.got[3], ['leave', { connectionId: bobJoin.connectionId }], 'unsubscribe leaves');
    carol.close();
    await ev.wait(5);
    t.same(ev.got[4], ['leave', { connectionId: carolJoin.connectionId }], 'disconnect leaves');
    t.same((await alice.presence('room.1')).members, [self]);
  },
);

t.test('a subscription without presence: true gets no events but can read the list', async (t) => {
  const s = await startServer(t, options);
  const quiet = await connectClient(t, s.url, { token: 'q' });
  const other = await connectClient(t, s.url, { token: 'o' });
  const sub = quiet.subscribe('room.2', () => {});
  const ev = events(sub);
  await sub.ready;
  const watcher = other.subscribe('room.2', () => {}, { presence: true });
  const wev = events(watcher);
  await watcher.ready;
  await wev.wait(1);
  t.equal((await sub.presence()).members.length, 2);
  t.same(ev.got, [], 'no join frames for a subscription that did not ask');
});

t.test('presence errors reach the client: 117 without presence, 107 when authorize denies', async (t) => {
  const s = await startServer(t, options);
  const c = await connectClient(t, s.url, { token: 'eve' });
  const mallory = await connectClient(t, s.url, { token: 'mallory' });
  await t.rejects(c.presence('news'), { code: 117 });
  const refused = c.subscribe('news', () => {}, { presence: true });
  await t.rejects(refused.ready, { code: 117 });
  t.equal(refused.active, false);
  t.throws(
    () => c.subscribe('room.*', () => {}, { presence: true }),
    TypeError,
    'patterns are refused before anything is sent',
  );
  await t.rejects(mallory.presence('room.1'), { code: 107 });
  await t.rejects(
    mallory.subscribe('room.1', () => {}, { presence: true }).ready,
    { code: 107 },
    'nor ask for the events that reveal the list',
  );
  await mallory.subscribe('room.1', () => {}).ready;
  t.equal(
    (await c.presence('room.1')).members.length,
    1,
    'mallory may subscribe (and is listed) but not read presence',
  );
});

t.test('after a reconnect the subscription rejoins as the new connection; the old one leaves', async (t) => {
  const s = await startServer(t, options);
  const watcherClient = await connectClient(t, s.url, { token: 'w' });
  const mover = await connectClient(t, s.url, { token: 'm' });
  const watcher = watcherClient.subscribe('room.3', () => {}, { presence: true });
  const ev = events(watcher);
  await watcher.ready;
  const moving = mover.subscribe('room.3', () => {}, { presence: true });
  const mev = events(moving);
  await moving.ready;
  await ev.wait(2);
  await mev.wait(1);
  const oldId = mev.got[0]![1].connectionId;
  const rejoined = once(moving, 'subscribed');
  s.hub.disconnect(oldId, 4003, 'please reconnect');
  await rejoined;
  await mev.wait(2);
  const newId = mev.got[1]![1].connectionId;
  t.not(newId, oldId, 'the resubscribe announces the new connection to itself');
  await ev.wait(4);
  t.same(
    ev.got
      .slice(2)
      .map(([k, m]) => [k, m.connectionId])
      .sort(),
    [
      ['join', newId],
      ['leave', oldId],
    ].sort(),
  );
  t.same(
    (await watcher.presence()).members.map((m) => m.connectionId).sort(),
    [ev.got[0]![1].connectionId, newId].sort(),
  );
});
