// Presence by user on one node over real sockets (docs/presence.md#presence-by-user): three tabs
// of one user are one member with three connections; userJoin on the first tab, userLeave only
// with the last; the connection-level view is unchanged; the rule and frames are validated.
import t from 'tap';
import WebSocket from 'ws';
import type { Subscription } from '../../adapters/client-node.js';
import { Switchyard } from '../../lib/hub.js';
import { connectClient, once, startServer, until } from '../helpers/server.js';

const options = {
  channels: [
    { match: 'room.*', presence: true, userPresence: true },
    { match: 'plain.*', presence: true },
  ],
  authenticate: ({ token }: { token?: string }) => ({ id: token, name: token?.toUpperCase() }),
  presenceInfo: (u: unknown) => ({ name: (u as { name: string }).name }),
};

function userEvents(sub: Subscription) {
  const got: string[] = [];
  sub.on('userJoin', (u) => void got.push(`join ${u.userId} ${(u.info as { name: string }).name}`));
  sub.on('userLeave', (u) => void got.push(`leave ${u.userId}`));
  return got;
}

t.test(
  'three tabs of one user are one member with three connections; join with the first, leave with the last',
  async (t) => {
    const s = await startServer(t, options);
    const watcher = await connectClient(t, s.url, { token: 'wat' });
    const wsub = watcher.subscribe('room.1', () => {}, { userPresence: true });
    const got = userEvents(wsub);
    await wsub.ready;
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const c = await connectClient(t, s.url, { token: 'ann' });
      await c.subscribe('room.1', () => {}).ready;
      tabs.push(c);
    }
    await until(() => got.length >= 1);
    const list = await watcher.presenceUsers('room.1');
    t.same(
      list.users.sort((a, b) => a.userId.localeCompare(b.userId)),
      [
        { userId: 'ann', connections: 3, info: { name: 'ANN' } },
        { userId: 'wat', connections: 1, info: { name: 'WAT' } },
      ],
    );
    t.equal(list.truncated, false);
    t.equal((await s.hub.presence('room.1')).members.length, 4, 'the connection-level view still lists every tab');
    const fromHub = await s.hub.presenceUsers('room.1');
    t.same(
      fromHub.users.sort((a, b) => a.userId.localeCompare(b.userId)),
      list.users,
      'hub.presenceUsers() agrees',
    );
    tabs[0]!.close();
    tabs[1]!.close();
    await until(() => s.hub.connectionCount === 2);
    t.same(got, ['join ann ANN'], 'closing two of three tabs is not a leave');
    tabs[2]!.close();
    await until(() => got.length === 2);
    t.same(got, ['join ann ANN', 'leave ann']);
    t.same(
      (await wsub.presenceUsers()).users.map((u) => u.userId),
      ['wat'],
    );
  },
);

t.test(
  'user presence needs its rule: 117 for a channel without it, 150 for userPresence without presence',
  async (t) => {
    const s = await startServer(t, options);
    const c = await connectClient(t, s.url, { token: 'bob' });
    await t.rejects(c.subscribe('plain.1', () => {}, { userPresence: true }).ready, { code: 117, message: /PRES-8/ });
    await t.rejects(c.presenceUsers('plain.1'), { code: 117, message: /PRES-9/ });
    await t.rejects(s.hub.presenceUsers('plain.1'), { code: 117 });
    t.throws(() => new Switchyard({ channels: [{ match: 'x', userPresence: true }] }), {
      code: 150,
      message: /userPresence/,
    });
    t.throws(() => c.subscribe('room.*', () => {}, { userPresence: true }), TypeError);
    // Raw frames: a non-boolean users flag is a bad frame.
    const ws = new WebSocket(s.url, ['switchyard.v1']);
    t.teardown(() => ws.terminate());
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await once(ws, 'open');
    ws.send(JSON.stringify({ op: 'sub', id: 1, ch: 'room.2', users: 'yes' }));
    ws.send(JSON.stringify({ op: 'presence', id: 2, ch: 'room.2', users: 1 }));
    await until(() => frames.filter((f) => f.op === 'err').length === 2);
    t.match(
      frames.filter((f) => f.op === 'err'),
      [
        { id: 1, code: 101, msg: /PRES-8/ },
        { id: 2, code: 101, msg: /PRES-9/ },
      ],
    );
  },
);

t.test('connections without a user id count only at the connection level', async (t) => {
  const s = await startServer(t, { ...options, authenticate: () => ({ anonymous: true }) });
  const c = await connectClient(t, s.url);
  await c.subscribe('room.3', () => {}).ready;
  t.same((await c.presenceUsers('room.3')).users, []);
  t.equal((await c.presence('room.3')).members.length, 1);
});
