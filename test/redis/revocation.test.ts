// Revocation across two nodes (two hubs in this process, each with its own Redis engine and http
// server, sharing one Redis): a call on node A reaches the user's connections on node B through
// the broker's control channel within a second; other users are untouched.
import t from 'tap';
import type { ClientError } from '../../adapters/client-node.js';
import { CLOSE } from '../../lib/close-codes.js';
import { grant } from '../../lib/grant.js';
import { connectClient, once, until } from '../helpers/server.js';
import { failoverClient } from './nodes.js';
import type { Subscription } from '../../adapters/client-node.js';
import { needRedis } from './helpers.js';
import { twoRedisNodes } from './two-nodes.js';

const denied = new Set<string>();
const hubOptions = {
  history: { size: 1_000, ttl: 600_000, recoveryCap: 1_000 },
  authenticate: ({ token }: { token?: string }) =>
    grant({ id: token ?? 'anon' }, { channels: [{ channel: `user.${token}`, qos: 1 as const }] }),
  authorize: ({ channel, user }: { channel: string; user: unknown }) =>
    !denied.has(`${(user as { id: string }).id}:${channel}`),
};

/** `p`, or a failure naming what did not happen within `ms` (so a stuck step is named, not a file timeout). */
function within<T>(p: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test("hub.unsubscribe on node A ends the user's subscriptions on both nodes within a second", async (t) => {
    const { a, b } = await twoRedisNodes(t, 'revocation', hubOptions);
    const onA = await connectClient(t, a.url, { token: 'ann' });
    const onB = await connectClient(t, b.url, { token: 'ann' });
    const bystander = await connectClient(t, b.url, { token: 'bob' });
    const subs = [onA, onB, bystander].map((c) => c.subscribe('room.1', () => {}));
    await Promise.all(subs.map((s) => s.ready));
    const start = performance.now();
    const ended = subs
      .slice(0, 2)
      .map((s) => once<ClientError>(s, 'ended').then((e): [number, number] => [e.code, performance.now() - start]));
    await a.hub.unsubscribe('ann', 'room.1');
    const results = await Promise.all(ended);
    for (const [code, ms] of results) {
      t.equal(code, 122);
      t.ok(ms < 1_000, `ended after ${Math.round(ms)} ms`);
    }
    t.equal(subs[2]!.active, true, "another user's subscription stays");
    t.same(
      b.hub.channels().filter((x) => x.channel === 'room.1'),
      [{ channel: 'room.1', subscribers: 1 }],
    );
  });

  t.test(
    'hub.refreshUser on node B re-authorizes on both nodes; hub.disconnect({ user }) on node A closes both within a second',
    async (t) => {
      const { a, b } = await twoRedisNodes(t, 'revocation', hubOptions);
      const onA = await connectClient(t, a.url, { token: 'cy' });
      const onB = await connectClient(t, b.url, { token: 'cy' });
      const other = await connectClient(t, a.url, { token: 'dee' });
      const vip = [onA, onB].map((c) => c.subscribe('vip', () => {}));
      const lobby = [onA, onB].map((c) => c.subscribe('lobby', () => {}));
      await Promise.all([...vip, ...lobby].map((s) => s.ready));
      denied.add('cy:vip');
      t.teardown(() => denied.delete('cy:vip'));
      const revoked = vip.map((s) => once<ClientError>(s, 'ended'));
      const start = performance.now();
      await b.hub.refreshUser('cy');
      t.same(
        (await Promise.all(revoked)).map((e) => e.code),
        [121, 121],
      );
      t.ok(performance.now() - start < 1_000, 'within a second');
      t.same(
        lobby.map((s) => s.active),
        [true, true],
      );

      const closed = [onA, onB].map((c) => once<{ code: number }>(c, 'closed'));
      const t0 = performance.now();
      t.equal(a.hub.disconnect({ user: 'cy' }, CLOSE.KICKED, 'banned'), true);
      t.same(
        (await Promise.all(closed)).map((c) => c.code),
        [CLOSE.KICKED, CLOSE.KICKED],
      );
      t.ok(performance.now() - t0 < 1_000, 'both nodes closed within a second');
      t.equal(other.state, 'connected');
      // A connection id of another node is found through the broker too.
      const accepted = once<{ id: string }>(b.hub, 'connection');
      const onB2 = await connectClient(t, b.url, { token: 'eve' });
      const cid = (await accepted).id;
      const closedB2 = once<{ code: number }>(onB2, 'closed');
      t.equal(a.hub.disconnect(cid), false, 'not on node A');
      t.equal((await closedB2).code, CLOSE.KICKED, 'node B closed it');
    },
  );

  t.test('server-side subscriptions are recovered after a reconnect to the other node', async (t) => {
    const { a, b } = await twoRedisNodes(t, 'revocation', hubOptions);
    const c = failoverClient(t, [a.url, b.url], 0, { token: 'fay' });
    const first = once<{ connectionId: string }>(c, 'connected');
    const sub = await within(
      new Promise<Subscription>((resolve) => c.once('serverSubscription', resolve)),
      'the server-side subscription',
    );
    const got: number[] = [];
    sub.on('message', (m) => void got.push(m.data as number));
    await within(sub.ready, 'the first subscribe');
    t.equal(sub.qos, 1);
    t.equal(sub.server, true);
    for (let i = 1; i <= 5; i++) await a.hub.publish('user.fay', i);
    await until(() => got.length >= 5);
    // Listeners first, then the close: the resubscribe on node B follows the reconnect at once.
    const resubscribed = once<{ recovered: boolean }>(sub, 'subscribed');
    const reconnected = once(c, 'connected');
    // By connection id, found on node A: no control message that could reach node B after the client.
    t.equal(a.hub.disconnect((await first).connectionId, 4000, 'move'), true);
    for (let i = 6; i <= 10; i++) await a.hub.publish('user.fay', i);
    await within(reconnected, 'the reconnect');
    const res = await within(resubscribed, 'the resubscribe');
    t.equal(res.recovered, true, 'resubscribed with since and recovered');
    for (let i = 11; i <= 12; i++) await b.hub.publish('user.fay', i);
    await until(() => got.length >= 12);
    t.same(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 'nothing lost or repeated across the reconnect');
    t.equal(c.subscription('user.fay'), sub, 'the same subscription object lives on');
  });
}
