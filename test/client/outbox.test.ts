import t from 'tap';
import { CLIENT_ERROR, ClientError } from '../../lib/client/errors.js';
import { outbox, type OutboxHost } from '../../lib/client/outbox.js';
import { publishPacer } from '../../lib/client/pacer.js';
import type { PublishResult } from '../../lib/protocol.js';

interface Sent {
  frame: Record<string, unknown>;
  resolve: (r: PublishResult) => void;
  reject: (e: Error) => void;
}

/** A fake connection: records each publish request; the test answers it. */
function harness(options: { rate?: number; limit?: number; publishTimeout?: number } = {}) {
  let clock = 0;
  const pacer = publishPacer(() => clock);
  pacer.reset(options.rate ?? 1000);
  const sent: Sent[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let live = true;
  const host: OutboxHost = {
    live: () => live,
    request: <T>(frame: Record<string, unknown>) =>
      new Promise<T>((resolve, reject) => {
        sent.push({ frame, resolve: resolve as (r: PublishResult) => void, reject });
        for (const w of waiters.filter((w) => sent.length >= w.n)) w.resolve();
      }),
  };
  const box = outbox(host, pacer, {
    offlineQueue: options.limit ?? 100,
    publishTimeout: options.publishTimeout ?? 60_000,
    timeout: 10_000,
  });
  return {
    box,
    sent,
    setLive: (v: boolean) => (live = v),
    advance: (ms: number) => (clock += ms),
    /** Resolves once `n` requests were sent in all. */
    sentCount: (n: number) =>
      new Promise<void>((resolve) => (sent.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

t.test('QoS 1 publishes are sent in the order they were made, each with its own message id', async (t) => {
  const h = harness();
  t.teardown(() => h.box.stop(new Error('test over')));
  const results = ['a', 'b', 'c'].map((x) => h.box.publish('ch', x));
  t.same(
    h.sent.map((s) => s.frame.data),
    ['a', 'b', 'c'],
  );
  const mids = new Set(h.sent.map((s) => s.frame.mid));
  t.equal(mids.size, 3);
  h.sent.forEach((s, i) => s.resolve({ offset: i + 1, epoch: 'e' }));
  t.same(await Promise.all(results), [
    { offset: 1, epoch: 'e' },
    { offset: 2, epoch: 'e' },
    { offset: 3, epoch: 'e' },
  ]);
});

t.test("sends are paced under the server's publish rate and resume when the bucket refills", async (t) => {
  const h = harness({ rate: 2 });
  t.teardown(() => h.box.stop(new Error('test over')));
  for (const x of ['a', 'b', 'c', 'd']) void h.box.publish('ch', x).catch(() => {});
  t.same(
    h.sent.map((s) => s.frame.data),
    ['a', 'b'],
    'two tokens: two sends',
  );
  h.advance(1000); // one second later the bucket holds two tokens again
  await h.sentCount(4);
  t.same(
    h.sent.map((s) => s.frame.data),
    ['a', 'b', 'c', 'd'],
    'the rest follow, in order',
  );
});

t.test('held publishes are sent again with the same message id when a new connection is up', async (t) => {
  const h = harness();
  t.teardown(() => h.box.stop(new Error('test over')));
  const p = h.box.publish('ch', 'x');
  const first = h.sent[0]!;
  // The connection drops before the reply.
  h.setLive(false);
  first.reject(new ClientError(CLIENT_ERROR.CONNECTION_LOST, 'connection closed before the reply'));
  await new Promise((r) => setImmediate(r));
  h.setLive(true);
  h.box.connected();
  t.equal(h.sent.length, 2);
  t.equal(h.sent[1]!.frame.mid, first.frame.mid, 'same mid: stored once');
  h.sent[1]!.resolve({ offset: 7, epoch: 'e', duplicate: true });
  t.same(await p, { offset: 7, epoch: 'e', duplicate: true });
});

t.test('a transient server error (201) is retried with the same id; a refusal (107) rejects at once', async (t) => {
  const h = harness();
  t.teardown(() => h.box.stop(new Error('test over')));
  const retried = h.box.publish('ch', 'x');
  h.sent[0]!.reject(new ClientError(201, 'engine unavailable'));
  await h.sentCount(2);
  t.equal(h.sent[1]!.frame.mid, h.sent[0]!.frame.mid);
  h.sent[1]!.resolve({ offset: 1, epoch: 'e' });
  t.same(await retried, { offset: 1, epoch: 'e' });

  const refused = h.box.publish('ch', 'y');
  h.sent[2]!.reject(new ClientError(107, 'forbidden'));
  await t.rejects(refused, { code: 107 });
});

t.test('beyond offlineQueue held publishes the next one rejects at once, and stop() rejects all held', async (t) => {
  const h = harness({ limit: 2 });
  h.setLive(false);
  const held = [h.box.publish('ch', 1), h.box.publish('ch', 2)];
  await t.rejects(h.box.publish('ch', 3), {
    code: CLIENT_ERROR.NO_ANSWER,
    message: /offline queue full \(2 publishes waiting\)/,
  });
  t.equal(h.sent.length, 0, 'nothing is sent while not connected');
  h.box.stop(new ClientError(1000, 'client closed'));
  for (const p of held) await t.rejects(p, { code: 1000 });
});

t.test('a publish not stored within publishTimeout rejects, even while disconnected', async (t) => {
  const h = harness({ publishTimeout: 20 });
  h.setLive(false);
  await t.rejects(h.box.publish('ch', 1), { code: CLIENT_ERROR.NO_ANSWER, message: /QoS 1 publish timed out/ });
});
