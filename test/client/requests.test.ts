import t from 'tap';
import { CLIENT_ERROR, ClientError } from '../../lib/client/errors.js';
import { requests, waiting } from '../../lib/client/requests.js';

t.test('each request gets a fresh id and settles with the reply of that id', async (t) => {
  const sent: Array<Record<string, unknown>> = [];
  const r = requests(
    (f) => (sent.push(f as Record<string, unknown>), true),
    () => 'connected',
  );
  const a = r.request({ op: 'hist', ch: 'a' }, 1000);
  const b = r.request({ op: 'hist', ch: 'b' }, 1000);
  t.same(
    sent.map((f) => f.id),
    [1, 2],
  );
  t.equal(r.reply(2, { res: { ch: 'b' } }), true);
  t.equal(r.reply(1, new ClientError(107, 'forbidden')), true);
  t.same(await b, { ch: 'b' });
  await t.rejects(a, { code: 107 });
  t.equal(r.reply(1, { res: {} }), false, 'a reply for no pending request is reported as unmatched');
});

t.test('onReply runs synchronously with the reply, before the promise settles', async (t) => {
  const r = requests(
    () => true,
    () => 'connected',
  );
  const order: string[] = [];
  const p = r
    .request<{ n: number }>({ op: 'sub' }, 1000, (res) => order.push(`onReply ${res.n}`))
    .then(() => order.push('then'));
  r.reply(1, { res: { n: 1 } });
  order.push('after reply');
  await p;
  t.same(order, ['onReply 1', 'after reply', 'then']);
});

t.test('a request without a connection, or without a reply in time, rejects with NO_ANSWER', async (t) => {
  const offline = requests(
    () => false,
    () => 'reconnecting',
  );
  await t.rejects(offline.request({ op: 'hist' }, 1000), {
    code: CLIENT_ERROR.NO_ANSWER,
    message: 'not connected (state reconnecting)',
  });
  const silent = requests(
    () => true,
    () => 'connected',
  );
  await t.rejects(silent.request({ op: 'hist' }, 10), {
    code: CLIENT_ERROR.NO_ANSWER,
    message: 'request timed out after 10 ms',
  });
});

t.test('failAll rejects every pending request with the given error', async (t) => {
  const r = requests(
    () => true,
    () => 'connected',
  );
  const ps = [r.request({ op: 'a' }, 1000), r.request({ op: 'b' }, 1000)];
  r.failAll(new ClientError(CLIENT_ERROR.CONNECTION_LOST, 'connection closed before the reply'));
  for (const p of ps) await t.rejects(p, { code: CLIENT_ERROR.CONNECTION_LOST });
});

t.test('calls made while not connected wait for the connection, bounded in number and time', async (t) => {
  let state = 'connecting';
  const w = waiting(2, 50, () => state);
  const order: number[] = [];
  const a = w.run(async () => order.push(1));
  const b = w.run(async () => order.push(2));
  await t.rejects(
    w.run(async () => 3),
    { code: CLIENT_ERROR.NO_ANSWER, message: 'offline queue full (2 calls waiting)' },
  );
  state = 'connected';
  w.resume();
  await Promise.all([a, b]);
  t.same(order, [1, 2], 'run in the order they were made');
  t.equal(await w.run(async () => 'now'), 'now', 'connected: runs at once');
  state = 'reconnecting';
  await t.rejects(
    w.run(async () => 0),
    { code: CLIENT_ERROR.NO_ANSWER, message: 'not connected after 50 ms (state reconnecting)' },
  );
  const c = w.run(async () => 0);
  w.fail(new ClientError(1000, 'client closed'));
  await t.rejects(c, { code: 1000 });
  state = 'closed';
  await t.rejects(
    w.run(async () => 0),
    { code: CLIENT_ERROR.NO_ANSWER, message: 'client is closed' },
  );
});
