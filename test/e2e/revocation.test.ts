// Revocation on one node over real sockets: hub.disconnect({ user }) closes every connection of
// the user, hub.unsubscribe(user, channel) ends its subscriptions with 122, hub.refreshUser(user)
// re-runs authorize and ends the denied ones with 121; other users are untouched.
import t from 'tap';
import type { ClientError } from '../../adapters/client-node.js';
import { CLOSE } from '../../lib/close-codes.js';
import { connectClient, once, startServer, until } from '../helpers/server.js';

const banned = new Set<string>();
const options = {
  authenticate: ({ token }: { token?: string }) => ({ id: token ?? 'anon' }),
  authorize: ({ channel, user }: { channel: string; user: unknown }) =>
    !(channel.startsWith('vip.') && banned.has((user as { id: string }).id)),
};

t.test(
  "hub.disconnect({ user }) closes all of the user's connections with the given code, and only theirs",
  async (t) => {
    const s = await startServer(t, options);
    const tabs = await Promise.all([1, 2, 3].map(() => connectClient(t, s.url, { token: 'ann' })));
    const other = await connectClient(t, s.url, { token: 'bob' });
    const closes = tabs.map((c) => once<{ code: number }>(c, 'closed'));
    t.equal(s.hub.disconnect({ user: 'ann' }, CLOSE.KICKED, 'account suspended'), true);
    for (const c of await Promise.all(closes)) t.equal(c.code, CLOSE.KICKED);
    await until(() => s.hub.connectionCount === 1);
    t.equal(other.state, 'connected');
    t.equal(s.hub.disconnect({ user: 'nobody' }), false, 'false when no local connection matched');
    t.throws(() => s.hub.disconnect({ user: '' }), { code: 150, message: /user/ });
    t.throws(() => s.hub.disconnect({ user: {} as never }), { code: 150, message: /user/ });
    t.throws(() => s.hub.disconnect({ user: 'ann' }, 3000), { code: 150, message: /code/ });
  },
);

t.test('hub.unsubscribe(user, channel) ends that subscription on every tab with 122 and leaves the rest', async (t) => {
  const s = await startServer(t, options);
  const tabs = await Promise.all([1, 2].map(() => connectClient(t, s.url, { token: 'cy' })));
  const subs = tabs.map((c) => c.subscribe('room.1', () => {}));
  const keep = tabs.map((c) => c.subscribe('room.2', () => {}));
  const other = await connectClient(t, s.url, { token: 'dee' });
  const otherSub = other.subscribe('room.1', () => {});
  await Promise.all([...subs, ...keep, otherSub].map((x) => x.ready));
  const ended = subs.map((x) => once<ClientError>(x, 'ended'));
  await s.hub.unsubscribe('cy', 'room.1');
  for (const e of await Promise.all(ended)) t.equal(e.code, 122);
  t.same(
    subs.map((x) => x.active),
    [false, false],
  );
  t.same(
    keep.map((x) => x.active),
    [true, true],
  );
  t.equal(otherSub.active, true);
  t.same(
    s.hub.channels().sort((a, b) => a.channel.localeCompare(b.channel)),
    [
      { channel: 'room.1', subscribers: 1 },
      { channel: 'room.2', subscribers: 2 },
    ],
  );
  await t.rejects(s.hub.unsubscribe('cy', 'bad..name'), { code: 150, message: /channel/ });
});

t.test('hub.refreshUser(user) re-runs authorize and ends what is now denied with 121', async (t) => {
  const s = await startServer(t, options);
  const c = await connectClient(t, s.url, { token: 'eve' });
  const vip = c.subscribe('vip.lounge', () => {});
  const lobby = c.subscribe('lobby', () => {});
  await Promise.all([vip.ready, lobby.ready]);
  banned.add('eve');
  t.teardown(() => banned.delete('eve'));
  const ended = once<ClientError>(vip, 'ended');
  await s.hub.refreshUser('eve');
  t.equal((await ended).code, 121);
  t.equal(lobby.active, true);
  t.same(
    s.hub.channels().map((x) => x.channel),
    ['lobby'],
  );
});

t.test(
  'the userId option decides how connections are found; a throwing hook makes a connection untargetable',
  async (t) => {
    const s = await startServer(t, {
      authenticate: ({ token }) => ({ account: { uid: Number(token) } }),
      userId: (u) => {
        const uid = (u as { account: { uid: number } }).account.uid;
        if (uid === 13) throw new Error('bad user');
        return uid;
      },
    });
    const a = await connectClient(t, s.url, { token: '42' });
    await connectClient(t, s.url, { token: '13' });
    const closed = once<{ code: number }>(a, 'closed');
    t.equal(s.hub.disconnect({ user: '42' }), true, 'a number id matches its string form');
    t.equal((await closed).code, CLOSE.KICKED);
    t.equal(s.hub.disconnect({ user: 13 }), false);
  },
);

t.test('hub.refreshUser also re-checks the presence right of a subscription receiving presence events', async (t) => {
  const noPresence = new Set<string>();
  const s = await startServer(t, {
    channels: [{ match: 'room.*', presence: true }],
    authenticate: ({ token }) => ({ id: token }),
    authorize: ({ action, user }) => action !== 'presence' || !noPresence.has((user as { id: string }).id),
  });
  const c = await connectClient(t, s.url, { token: 'gus' });
  const watching = c.subscribe('room.1', () => {}, { presence: true });
  const quiet = c.subscribe('room.2', () => {});
  await Promise.all([watching.ready, quiet.ready]);
  noPresence.add('gus');
  const ended = once<ClientError>(watching, 'ended');
  await s.hub.refreshUser('gus');
  t.equal((await ended).code, 121);
  t.equal(quiet.active, true, 'a subscription without presence events needs no presence right');
});
