// Presence by user across two nodes sharing one Redis: tabs of one user on both nodes are one
// member with two connections on either node; the user leaves when its last tab closes, or when
// the node holding its last tab dies (liveness key expiry), never earlier.
import t from 'tap';
import type { Subscription } from '../../adapters/client-node.js';
import { connectClient, until } from '../helpers/server.js';
import { needRedis } from './helpers.js';
import { twoRedisNodes } from './two-nodes.js';

const hubOptions = {
  channels: [{ match: 'room.*', presence: true, userPresence: true }],
  authenticate: ({ token }: { token?: string }) => ({ id: token?.split('#')[0] }),
  presenceInfo: (u: unknown) => ({ id: (u as { id: string }).id }),
};

function userEvents(sub: Subscription) {
  const got: string[] = [];
  sub.on('userJoin', (u) => void got.push(`join ${u.userId}`));
  sub.on('userLeave', (u) => void got.push(`leave ${u.userId}`));
  return got;
}

const summary = (r: { users: Array<{ userId: string; connections: number }> }) =>
  r.users.map((u) => `${u.userId}:${u.connections}`).sort();

if (!(await needRedis())) t.pass('skipped: Redis is not available');
else {
  t.test('tabs on two nodes are one user with two connections; it leaves only with its last tab', async (t) => {
    const { a, b } = await twoRedisNodes(t, 'upresence', hubOptions);
    const watcher = await connectClient(t, a.url, { token: 'wat' });
    const wsub = watcher.subscribe('room.1', () => {}, { userPresence: true });
    const got = userEvents(wsub);
    await wsub.ready;
    const tabA = await connectClient(t, a.url, { token: 'ann#1' });
    await tabA.subscribe('room.1', () => {}).ready;
    const tabB = await connectClient(t, b.url, { token: 'ann#2' });
    await tabB.subscribe('room.1', () => {}).ready;
    await until(() => got.length >= 1);
    for (const [name, hub] of [
      ['A', a.hub],
      ['B', b.hub],
    ] as const)
      t.same(
        summary(await hub.presenceUsers('room.1')),
        ['ann:2', 'wat:1'],
        `node ${name} lists one ann with 2 connections`,
      );
    t.same(summary(await tabB.presenceUsers('room.1')), ['ann:2', 'wat:1'], 'a client on node B too');
    tabA.close();
    await until(() => a.hub.connectionCount === 1);
    t.same(summary(await b.hub.presenceUsers('room.1')), ['ann:1', 'wat:1']);
    t.same(got, ['join ann'], 'the first tab closing is not a leave');
    tabB.close();
    await until(() => got.length === 2, 5_000);
    t.same(got, ['join ann', 'leave ann'], "the node A watcher hears the leave of ann's last tab, which was on node B");
  });

  t.test(
    'a watcher that starts later lists existing users, and a user whose last node dies leaves within the ttl',
    async (t) => {
      const ttl = 600;
      const { a, b, engineB } = await twoRedisNodes(t, 'upresence', hubOptions, {
        presenceTtl: ttl,
        presenceRefresh: 150,
      });
      const tabB = await connectClient(t, b.url, { token: 'bob#1' });
      await tabB.subscribe('room.2', () => {}).ready;
      const tabB2 = await connectClient(t, b.url, { token: 'bob#2' });
      await tabB2.subscribe('room.2', () => {}).ready;
      const watcher = await connectClient(t, a.url, { token: 'wat' });
      const wsub = watcher.subscribe('room.2', () => {}, { userPresence: true });
      const got = userEvents(wsub);
      await wsub.ready;
      t.same(summary(await wsub.presenceUsers()), ['bob:2', 'wat:1']);
      // Node B "dies": stops refreshing its liveness key and never says leave.
      const died = Date.now();
      await engineB.presence.close();
      await until(() => got.length === 1, 10_000);
      t.same(got, ['leave bob'], 'one user-level leave for the two dead connections');
      t.ok(Date.now() - died < ttl + 150 + 2_000, `heard after ${Date.now() - died} ms`);
      t.same(summary(await a.hub.presenceUsers('room.2')), ['wat:1']);
    },
  );
}
