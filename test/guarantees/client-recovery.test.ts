// Client SDK recovery (issue 3 items 3, 4, 6, 8) over real sockets: automatic recovery after
// every reconnect (also on quiet channels and for subscribers that never got a message),
// persisted positions passed as `since`, one discontinuity event per discontinuity, QoS 1
// redelivery in order, and authorization on every resubscribe and history read.
import t from 'tap';
import { memoryEngine } from '../../lib/engine-memory.js';
import type { Client, Discontinuity, Message } from '../../adapters/client-node.js';
import { connectClient, once, startServer, until } from '../helpers/server.js';
import { clientSocket } from '../helpers/client-socket.js';

/** Destroys the client's TCP socket without a close handshake, like a network drop. */
function dropConnection(client: Client): void {
  clientSocket(client)._socket.destroy();
}

async function reconnected(client: Client): Promise<void> {
  await once(client, 'disconnected');
  await once(client, 'connected');
}

t.test('a subscriber that never received a message recovers what a quiet channel got while it was away', async (t) => {
  const { hub, url } = await startServer(t);
  const client = await connectClient(t, url);
  const seen: number[] = [];
  const gaps: Discontinuity[] = [];
  const sub = client.subscribe('news.quiet', (m) => void seen.push(m.offset));
  sub.on('discontinuity', (d) => gaps.push(d));
  const first = await sub.ready;
  t.same(first.position.offset, 0, 'the subscribe result gives the position to resume from');
  const again = reconnected(client);
  dropConnection(client);
  await once(client, 'disconnected');
  for (let i = 0; i < 3; i++) await hub.publish('news.quiet', { i });
  const result = once<any>(sub, 'subscribed');
  await again;
  t.equal((await result).recovered, true);
  await until(() => seen.length >= 3);
  t.same(seen, [1, 2, 3]);
  t.same(gaps, []);
  t.same(sub.position, { offset: 3, epoch: first.position.epoch });
});

t.test(
  'an app persists sub.position and passes it as since on a later connection: exactly the missed messages',
  async (t) => {
    const { hub, url } = await startServer(t);
    const a = await connectClient(t, url);
    const seenA: number[] = [];
    const subA = a.subscribe('news.p', (m) => void seenA.push(m.offset));
    await subA.ready;
    for (let i = 0; i < 5; i++) await hub.publish('news.p', { i });
    await until(() => seenA.length === 5);
    const saved = JSON.parse(JSON.stringify(subA.position)); // as if written to localStorage
    a.close();
    for (let i = 5; i < 8; i++) await hub.publish('news.p', { i });
    const b = await connectClient(t, url);
    const seenB: Message[] = [];
    const subB = b.subscribe('news.p', (m) => void seenB.push(m), { since: saved });
    const res = await subB.ready;
    t.equal(res.recovered, true);
    await until(() => seenB.length === 3);
    t.same(
      seenB.map((m) => [m.offset, (m.data as any).i]),
      [
        [6, 5],
        [7, 6],
        [8, 7],
      ],
    );
  },
);

t.test('discontinuity fires exactly once when a resubscribe cannot recover, then delivery continues', async (t) => {
  const { hub, url } = await startServer(t, { history: { size: 3 } });
  const client = await connectClient(t, url);
  const seen: number[] = [];
  const gaps: Discontinuity[] = [];
  const sub = client.subscribe('news.u', (m) => void seen.push(m.offset), { qos: 1 });
  sub.on('discontinuity', (d) => gaps.push(d));
  await sub.ready;
  await hub.publish('news.u', 0);
  await until(() => seen.length === 1);
  const again = reconnected(client);
  dropConnection(client);
  await once(client, 'disconnected');
  for (let i = 0; i < 10; i++) await hub.publish('news.u', i); // 2..11; only 9..11 kept
  const result = once<any>(sub, 'subscribed');
  await again;
  t.equal((await result).recovered, false);
  t.equal(gaps.length, 1);
  t.same(gaps[0], { reason: 'trimmed', position: { offset: 11, epoch: sub.position!.epoch } });
  t.same(seen, [1], 'no replay after an unrecoverable resubscribe');
  await hub.publish('news.u', 'next');
  await until(() => seen.length === 2);
  t.same(seen, [1, 12]);
  t.equal(gaps.length, 1, 'still exactly one');
});

t.test(
  'discontinuity fires exactly once when the stream is reset (epoch change) under a live subscriber',
  async (t) => {
    const engine = memoryEngine();
    const { hub, url } = await startServer(t, { engine });
    const client = await connectClient(t, url);
    const seen: Message[] = [];
    const gaps: Discontinuity[] = [];
    const sub = client.subscribe('news.r', (m) => void seen.push(m));
    sub.on('discontinuity', (d) => gaps.push(d));
    await sub.ready;
    await hub.publish('news.r', 1);
    await hub.publish('news.r', 2);
    engine.storage.evict('news.r'); // the store lost the stream: it comes back with a new epoch
    const fresh = await hub.publish('news.r', 'a');
    await hub.publish('news.r', 'b');
    await until(() => seen.length === 4);
    t.same(
      seen.map((m) => m.offset),
      [1, 2, 1, 2],
    );
    t.equal(gaps.length, 1);
    t.same(gaps[0], { reason: 'reset', position: { offset: 0, epoch: fresh.epoch } });
  },
);

t.test(
  'discontinuity fires exactly once when a paused QoS 1 subscriber fell further behind than history (trimmed)',
  async (t) => {
    const { hub, url } = await startServer(t, { history: { size: 10 }, limits: { inflightWindow: 4 } });
    const client = await connectClient(t, url);
    const handled: number[] = [];
    const gaps: Discontinuity[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const sub = client.subscribe(
      'jobs.t',
      async (m) => {
        handled.push(m.offset);
        if (m.offset === 1) await blocked;
      },
      { qos: 1 },
    );
    sub.on('discontinuity', (d) => gaps.push(d));
    const { position } = await sub.ready;
    for (let i = 0; i < 30; i++) await hub.publish('jobs.t', i); // the window holds 1..4; 21..30 stay in history
    release();
    await until(() => handled.at(-1) === 30);
    t.same(handled, [1, 2, 3, 4, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    t.same(gaps, [{ reason: 'trimmed', position: { offset: 20, epoch: position.epoch } }]);
  },
);

t.test('QoS 0 drops reach the client as one drop event and one gap discontinuity', async (t) => {
  const { hub, url } = await startServer(t, {
    history: { size: 10_000 },
    limits: { queueHighWaterBytes: 64 * 1024, slowConsumerTimeout: 20_000 },
  });
  const client = await connectClient(t, url);
  const seen: number[] = [];
  const gaps: Discontinuity[] = [];
  const drops: number[] = [];
  const sub = client.subscribe('news.d', (m) => void seen.push(m.offset));
  sub.on('discontinuity', (d) => gaps.push(d));
  sub.on('drop', (n) => drops.push(n));
  await sub.ready;
  const socket = clientSocket(client)._socket;
  socket.pause();
  const pad = 'x'.repeat(2_000);
  let n = 0;
  while (hub.counters.dropped === 0 && n < 20_000) {
    await hub.publish('news.d', { pad, n: n++ });
    if (n % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  t.ok(hub.counters.dropped > 0, `dropping after ${n} messages`);
  for (let i = 0; i < 10; i++) await hub.publish('news.d', { pad, n: n++ }); // dropped too
  const dropped = hub.counters.dropped;
  socket.resume();
  await until(() => drops.length === 1, 10_000);
  t.same(drops, [dropped], 'the drop event carries the count');
  await hub.publish('news.d', 'after');
  await until(() => seen.at(-1) === n + 1, 10_000);
  t.equal(gaps.length, 1, 'one discontinuity');
  t.equal(gaps[0]!.reason, 'gap');
  t.equal(seen.length, n + 1 - dropped, 'everything not dropped was delivered');
});

t.test(
  'QoS 1: unacknowledged messages are redelivered after a reconnect, in order, before newer ones, each handled once',
  async (t) => {
    const { hub, url } = await startServer(t);
    const client = await connectClient(t, url);
    const handled: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const sub = client.subscribe(
      'jobs.r',
      async (m) => {
        handled.push(m.offset);
        if (m.offset === 3) await blocked; // the handler is still busy with 3 when the connection drops
      },
      { qos: 1 },
    );
    await sub.ready;
    for (let i = 0; i < 5; i++) await hub.publish('jobs.r', i);
    await until(() => handled.length === 3);
    const again = reconnected(client);
    dropConnection(client);
    await once(client, 'disconnected');
    await hub.publish('jobs.r', 5);
    await hub.publish('jobs.r', 6);
    await again;
    release();
    await until(() => handled.length >= 7);
    await hub.publish('jobs.r', 'last');
    await until(() => handled.length >= 8);
    t.same(handled, [1, 2, 3, 4, 5, 6, 7, 8]);
    await until(() => sub.position?.offset === 8);
  },
);

t.test('QoS 1 acks are cumulative and batched: far fewer ack frames than messages', async (t) => {
  const { hub, url } = await startServer(t);
  const acks: number[] = [];
  hub.on('connection', ({ id }) => {
    // Test-only spy on what the server receives from this connection.
    const conn = ((hub as any).conns as Map<string, any>).get(id);
    const receive = conn.receive.bind(conn);
    conn.receive = (data: string, binary: boolean) => {
      const f = JSON.parse(data);
      if (f.op === 'ack') acks.push(f.off);
      receive(data, binary);
    };
  });
  const client = await connectClient(t, url);
  const handled: number[] = [];
  const sub = client.subscribe('jobs.k', (m) => void handled.push(m.offset), { qos: 1 });
  await sub.ready;
  for (let i = 0; i < 200; i++) await hub.publish('jobs.k', i);
  await until(() => acks.at(-1) === 200);
  t.equal(handled.length, 200);
  t.ok(acks.length <= 20, `${acks.length} ack frames for 200 messages`);
  t.same(
    [...acks].sort((a, b) => a - b),
    acks,
    'acks only move forward',
  );
});

t.test(
  'QoS 1: a handler that throws still counts the message as processed (handlerError), so it is not redelivered',
  async (t) => {
    const { hub, url } = await startServer(t);
    const client = await connectClient(t, url);
    const handled: number[] = [];
    const errors: number[] = [];
    const sub = client.subscribe(
      'jobs.e',
      (m) => {
        handled.push(m.offset);
        if (m.offset === 2) throw new Error('bad message');
      },
      { qos: 1 },
    );
    sub.on('handlerError', (_err, m) => errors.push(m.offset));
    await sub.ready;
    for (let i = 0; i < 3; i++) await hub.publish('jobs.e', i);
    await until(() => handled.length === 3);
    t.same(errors, [2]);
    await until(() => sub.position?.offset === 3);
    const again = reconnected(client);
    dropConnection(client);
    await again;
    await hub.publish('jobs.e', 'after');
    await until(() => handled.length >= 4);
    t.same(handled, [1, 2, 3, 4], 'message 2 was not handed to the handler again');
  },
);

t.test(
  'authorization runs again on every resubscribe; a revoked permission ends the subscription with 107',
  async (t) => {
    let allow = true;
    const asked: string[] = [];
    const { hub, url } = await startServer(t, {
      authorize: ({ action, channel }) => {
        asked.push(`${action} ${channel}`);
        return allow;
      },
    });
    const client = await connectClient(t, url);
    const seen: number[] = [];
    const sub = client.subscribe('room.auth', (m) => void seen.push(m.offset));
    await sub.ready;
    t.same(asked, ['subscribe room.auth']);
    let again = reconnected(client);
    dropConnection(client);
    await again;
    await once(sub, 'subscribed');
    t.same(asked, ['subscribe room.auth', 'subscribe room.auth'], 'asked again on the resubscribe');
    allow = false;
    const refused = once<any>(sub, 'error');
    again = reconnected(client);
    dropConnection(client);
    await again;
    const err = await refused;
    t.equal(err.code, 107);
    t.equal(sub.active, false);
    t.equal(asked.length, 3);
    await hub.publish('room.auth', 'secret');
    t.same(seen, [], 'nothing delivered after the refusal');
  },
);

t.test(
  'history: the client read is authorized; hub.history and client history agree on since/limit/complete',
  async (t) => {
    const { hub, url } = await startServer(t, {
      history: { size: 5 },
      authorize: ({ action, channel }) => !(action === 'history' && channel.startsWith('secret.')),
    });
    const client = await connectClient(t, url);
    await hub.publish('secret.h', 1);
    await t.rejects(client.history('secret.h'), { code: 107 });
    let epoch = '';
    for (let i = 1; i <= 8; i++) epoch = (await hub.publish('open.h', { i })).epoch; // keeps 4..8
    const c1 = await client.history('open.h', { since: { offset: 5, epoch }, limit: 2 });
    t.same(
      c1.messages.map((m) => m.off),
      [6, 7],
    );
    t.equal(c1.complete, true);
    const s1 = await hub.history('open.h', { since: { offset: 5, epoch }, limit: 2 });
    t.same(
      s1.messages.map((m) => m.offset),
      [6, 7],
    );
    const c2 = await client.history('open.h', { since: { offset: 1, epoch } });
    t.equal(c2.complete, false, 'since is older than what is kept');
    t.same(
      c2.messages.map((m) => m.off),
      [4, 5, 6, 7, 8],
      'starts at the oldest kept',
    );
    const c3 = await client.history('open.h', { since: { offset: 1, epoch: 'otherepoch00' } });
    t.equal(c3.complete, false, 'another epoch');
    t.same(c3.position, { offset: 8, epoch });
  },
);
