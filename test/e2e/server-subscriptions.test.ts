// Server-side subscriptions over real sockets ([SSUB-*], docs/identity.md): channels a grant
// names appear in the SDK as subscriptions, need no authorize approval, keep their QoS, survive a
// reconnect with recovery, and change at refresh (withdrawn ones end with 121).
import t from 'tap';
import type { ClientError, Message, Subscription } from '../../adapters/client-node.js';
import { grant } from '../../lib/grant.js';
import { connectClient, once, startServer, until } from '../helpers/server.js';

const history = { size: 1_000, ttl: 600_000, recoveryCap: 1_000 };
/** `authorize` denies every client subscription to user.* channels: only grants reach them. */
const authorize = ({ channel }: { channel: string }) => !channel.startsWith('user.');

t.test(
  'granted channels appear as subscriptions, deliver at their QoS without authorize, and recover after a reconnect',
  async (t) => {
    const s = await startServer(t, {
      history,
      authorize,
      authenticate: ({ token }) =>
        grant({ id: token }, { channels: [{ channel: `user.${token}`, qos: 1 }, `tenant.7`] }),
    });
    const announced: Subscription[] = [];
    const { connect } = await import('../../adapters/client-node.js');
    const c = connect(s.url, { token: 'ann', reconnect: { minDelay: 20, maxDelay: 200 } });
    t.teardown(() => c.close());
    c.on('serverSubscription', (sub) => announced.push(sub));
    await once(c, 'connected');
    t.same(
      announced.map((x) => [x.channel, x.qos, x.server]),
      [
        ['user.ann', 1, true],
        ['tenant.7', 0, true],
      ],
    );
    const mine = announced[0]!;
    const got: Message[] = [];
    mine.on('message', (m) => void got.push(m));
    await Promise.all(announced.map((x) => x.ready));
    await s.hub.publish('user.ann', 'a');
    await until(() => got.length === 1);

    // An app subscription to another user's channel is still refused by authorize.
    await t.rejects(c.subscribe('user.bob', () => {}).ready, { code: 107 });

    const back = once(c, 'connected');
    s.hub.disconnect({ user: 'ann' }, 4000, 'reconnect please'); // an application code in the reconnect range
    await s.hub.publish('user.ann', 'b');
    await s.hub.publish('user.ann', 'c');
    await back;
    const res = await once<{ recovered: boolean }>(mine, 'subscribed');
    t.equal(res.recovered, true);
    await until(() => got.length === 3);
    t.same(
      got.map((m) => [m.offset, m.data]),
      [
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
      ],
    );
    t.equal(announced.length, 2, 'the same subscriptions live on: no second announcement');
  },
);

t.test(
  'a refresh changes the granted channels: a withdrawn one ends with 121, a new one is announced and delivers',
  async (t) => {
    let generation = 0;
    const s = await startServer(t, {
      history,
      authorize,
      authenticate: () => grant({ id: 'cy' }, { expiresAt: Date.now() + 400, channels: ['user.cy.old'] }),
      refresh: () => grant({ id: 'cy' }, { expiresAt: Date.now() + 60_000, channels: [`user.cy.new${++generation}`] }),
    });
    const c = await connectClient(t, s.url, { token: () => 'tok' });
    const old = c.subscription('user.cy.old')!;
    t.ok(old?.server, 'the welcome announced the first grant');
    const ended = once<ClientError>(old, 'ended');
    const announced = once<Subscription>(c, 'serverSubscription');
    await old.ready;
    const fresh = await announced;
    t.equal(fresh.channel, 'user.cy.new1');
    t.equal((await ended).code, 121);
    await fresh.ready;
    const got: unknown[] = [];
    fresh.on('message', (m) => void got.push(m.data));
    await s.hub.publish('user.cy.new1', 'hello');
    await until(() => got.length === 1);
    t.same(got, ['hello']);
    t.same(
      s.hub.channels().map((x) => x.channel),
      ['user.cy.new1'],
    );
  },
);

t.test('hub.unsubscribe ends a server-side subscription too, with 122', async (t) => {
  const s = await startServer(t, { authenticate: () => grant('dee', { channels: ['user.dee'] }) });
  const c = await connectClient(t, s.url);
  const sub = c.subscription('user.dee')!;
  await sub.ready;
  const ended = once<ClientError>(sub, 'ended');
  await s.hub.unsubscribe('dee', 'user.dee');
  t.equal((await ended).code, 122);
  t.equal(c.subscription('user.dee'), undefined);
});
