// The embedded store's own bounds (issue 3 item 2), beyond the shared conformance suite: the
// number of channels is bounded by an LRU whose evicted streams come back with a new epoch, ages
// run on an injectable monotonic clock, and bad options are refused with error 150.
import t from 'tap';
import { MemoryStorage } from '../../lib/history-memory.js';
import { ManualClock } from './helpers.js';

const keep = { size: 10, ttl: 1_000 };

t.test('at most maxChannels streams are kept; the least recently used comes back with a new epoch', async (t) => {
  const s = new MemoryStorage({ maxChannels: 2 });
  const a = await s.append('a', '1', keep);
  await s.append('b', '1', keep);
  await s.state('a'); // a is now more recent than b
  await s.append('c', '1', keep); // evicts b
  t.equal(s.size, 2);
  t.equal((await s.state('a')).epoch, a.epoch, 'a survived');
  const b = await s.state('b');
  t.equal(b.offset, 0, 'b starts over');
  t.ok(b.epoch.length > 0);
});

t.test('ages follow the injected monotonic clock, not wall time', async (t) => {
  const clock = new ManualClock();
  const s = new MemoryStorage({ now: clock.now });
  await s.append('x', '1', keep);
  clock.advance(500);
  await s.append('x', '2', keep);
  clock.advance(499);
  t.same(
    (await s.read('x', 0, 10)).messages.map((m) => m.offset),
    [1, 2],
    'nothing is 1000 ms old yet',
  );
  clock.advance(1);
  const r = await s.read('x', 0, 10);
  t.same(
    r.messages.map((m) => m.offset),
    [2],
    'the first expired exactly at its TTL',
  );
  t.same([r.state.earliest, r.state.offset], [2, 2]);
  clock.advance(500);
  t.same(await s.state('x'), { offset: 2, epoch: r.state.epoch, earliest: 3 }, 'all expired; offset and epoch stay');
});

t.test('an idempotency key remembered from an evicted stream does not point into its successor', async (t) => {
  const s = new MemoryStorage();
  const first = await s.append('k', 'a', { ...keep, idempotencyKey: 'm1' });
  s.evict('k');
  const again = await s.append('k', 'a', { ...keep, idempotencyKey: 'm1' });
  t.not(again.epoch, first.epoch);
  t.equal(again.duplicate, false, 'stored in the new stream');
  t.equal(again.offset, 1);
});

t.test('bad options are refused with error 150 naming the option', async (t) => {
  t.throws(() => new MemoryStorage({ maxChannels: 0 }), { code: 150, message: /maxChannels/ });
  t.throws(() => new MemoryStorage({ dedupWindow: -1 }), { code: 150, message: /dedupWindow/ });
  t.throws(() => new MemoryStorage({ maxIdempotencyKeys: 1.5 }), { code: 150, message: /maxIdempotencyKeys/ });
  t.throws(() => new MemoryStorage({ now: 5 as any }), { code: 150, message: /now/ });
});

t.test(
  'reads of never-published channels create no stream and evict none (issue 9 item 6, memory engine)',
  async (t) => {
    const s = new MemoryStorage({ maxChannels: 2 });
    const a = await s.append('real.a', '1', { size: 10, ttl: 60_000 });
    const b = await s.append('real.b', '1', { size: 10, ttl: 60_000 });
    for (let i = 0; i < 100; i++) {
      await s.state(`ghost.${i}`);
      await s.read(`ghost.${i}`, 0, 10);
    }
    t.equal(s.size, 2, 'still two streams');
    t.same(
      [(await s.state('real.a')).epoch, (await s.state('real.a')).offset],
      [a.epoch, 1],
      'real.a kept its epoch and offset',
    );
    t.same([(await s.state('real.b')).epoch, (await s.state('real.b')).offset], [b.epoch, 1], 'real.b too');
    const ghost = await s.state('ghost.99');
    t.equal((await s.state('ghost.99')).epoch, ghost.epoch, 'an unpublished channel keeps its epoch across reads');
    const first = await s.append('ghost.99', '"x"', { size: 10, ttl: 60_000 });
    t.same(
      [first.offset, first.epoch],
      [1, ghost.epoch],
      'and its first message continues that epoch (a subscriber sees no reset)',
    );
  },
);
