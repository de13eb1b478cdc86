// A reset (the store lost a stream: new epoch) means "what came before is gone", never "skip what
// comes after" (issue 9 items 1 and 2): every subscriber gets one discontinuity with the exact
// reason `reset`, then every message of the new epoch from its first retained offset — whether it
// learns of the reset from a live message or from the re-check after a bus interruption.
import t from 'tap';
import { Switchyard } from '../../lib/hub.js';
import { MemoryStorage } from '../../lib/history-memory.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import { audit, fakeClient, frame, ManualBus, offsets, received, sub } from './helpers.js';

function setup(t: { teardown(fn: () => unknown): void }, options: SwitchyardOptions = {}) {
  const bus = new ManualBus();
  const storage = new MemoryStorage();
  const hub = new Switchyard({ closeTimeout: 10, ...options, engine: { storage, broker: bus } });
  t.teardown(() => hub.close());
  return { hub, bus, storage };
}

/** Frames of `ch` after index `from`, as `msg@epoch:offset` and `gap:reason@epoch:offset`. */
function story(c: ReturnType<typeof fakeClient>, ch: string, from: number, epochs: Map<string, string>): string[] {
  const name = (ep: string) => epochs.get(ep) ?? '?';
  return c.t.frames
    .slice(from)
    .filter((f) => (f.op === 'msg' || f.op === 'gap') && f.ch === ch)
    .map((f) =>
      f.op === 'msg' ? `msg@${name(f.ep)}:${f.off}` : `gap:${f.reason}@${name(f.position.epoch)}:${f.position.offset}`,
    );
}

for (const qos of [0, 1] as const) {
  t.test(
    `QoS ${qos}: a live message of a new epoch makes the subscriber replay the new epoch from offset 1 after one gap with reason reset`,
    async (t) => {
      const { hub, bus, storage } = setup(t);
      const c = fakeClient(hub);
      await sub(c, 'reset.live', qos ? { qos } : {});
      const old = await hub.publish('reset.live', 'old');
      await received(c, 'reset.live', 1);
      const from = c.t.frames.length;
      storage.evict('reset.live'); // the store lost the stream
      bus.mode = 'drop'; // and the first messages of the new epoch never came over the bus
      const fresh = await hub.publish('reset.live', 1);
      for (let i = 2; i <= 4; i++) await hub.publish('reset.live', i);
      bus.mode = 'pass';
      await hub.publish('reset.live', 5); // the first live message of the new epoch is offset 5
      await frame(c, (f) => f.op === 'msg' && f.ep === fresh.epoch && f.off === 5, 'msg 5 of the new epoch');
      const epochs = new Map([
        [old.epoch, 'E1'],
        [fresh.epoch, 'E2'],
      ]);
      t.same(story(c, 'reset.live', from, epochs), [
        'gap:reset@E2:0',
        'msg@E2:1',
        'msg@E2:2',
        'msg@E2:3',
        'msg@E2:4',
        'msg@E2:5',
      ]);
    },
  );

  t.test(
    `QoS ${qos}: the re-check after a bus interruption finds a new epoch and replays it from offset 1 after one gap with reason reset`,
    async (t) => {
      const { hub, bus, storage } = setup(t);
      const c = fakeClient(hub);
      await sub(c, 'reset.quiet', qos ? { qos } : {});
      const old = await hub.publish('reset.quiet', 'old');
      await received(c, 'reset.quiet', 1);
      const from = c.t.frames.length;
      bus.mode = 'drop';
      storage.evict('reset.quiet');
      const fresh = await hub.publish('reset.quiet', 1);
      for (let i = 2; i <= 3; i++) await hub.publish('reset.quiet', i);
      bus.mode = 'pass';
      bus.sink!.interrupted(); // the bus is back: every subscription re-checks the store
      await frame(c, (f) => f.op === 'msg' && f.ep === fresh.epoch && f.off === 3, 'msg 3 of the new epoch');
      const epochs = new Map([
        [old.epoch, 'E1'],
        [fresh.epoch, 'E2'],
      ]);
      t.same(story(c, 'reset.quiet', from, epochs), ['gap:reset@E2:0', 'msg@E2:1', 'msg@E2:2', 'msg@E2:3']);
      await hub.publish('reset.quiet', 4);
      await received(c, 'reset.quiet', 4);
      t.same(
        audit(offsets(c, 'reset.quiet', from), 1, 4),
        { lost: 0, duplicated: 0, outOfOrder: 0 },
        'then live, nothing lost or repeated',
      );
    },
  );
}

t.test(
  'a new epoch that already trimmed its start is reported as reset, continuing from its oldest retained message',
  async (t) => {
    const { hub, bus, storage } = setup(t, { history: { size: 3 } });
    const c = fakeClient(hub);
    await sub(c, 'reset.trim', { qos: 1 });
    await hub.publish('reset.trim', 'old');
    await received(c, 'reset.trim', 1);
    const from = c.t.frames.length;
    bus.mode = 'drop';
    storage.evict('reset.trim');
    let fresh;
    for (let i = 1; i <= 5; i++) fresh = await hub.publish('reset.trim', i); // only 3..5 kept
    bus.mode = 'pass';
    bus.sink!.interrupted();
    await frame(c, (f) => f.op === 'msg' && f.ep === fresh!.epoch && f.off === 5, 'msg 5 of the new epoch');
    const gaps = c.t.frames.slice(from).filter((f) => f.op === 'gap');
    t.same(
      gaps,
      [{ op: 'gap', ch: 'reset.trim', position: { offset: 2, epoch: fresh!.epoch }, reason: 'reset' }],
      'the store lost data: reset, not trimmed',
    );
    t.same(offsets(c, 'reset.trim', from), [3, 4, 5]);
  },
);

t.test('a subscriber that fell behind history within one epoch gets a gap with reason trimmed', async (t) => {
  const { hub } = setup(t, { history: { size: 5 }, limits: { inflightWindow: 2 } });
  const c = fakeClient(hub);
  await sub(c, 'trim.a', { qos: 1 });
  let last;
  for (let i = 1; i <= 20; i++) last = await hub.publish('trim.a', i);
  c.send({ op: 'ack', ch: 'trim.a', off: 2 });
  const gap = await frame(c, (f) => f.op === 'gap', 'gap');
  t.same(gap, { op: 'gap', ch: 'trim.a', position: { offset: 15, epoch: last!.epoch }, reason: 'trimmed' });
});

t.test('a resubscribe that cannot recover says exactly why: reset, trimmed or cap', async (t) => {
  const { hub, storage } = setup(t, { history: { size: 5, recoveryCap: 3 } });
  const c = fakeClient(hub);
  let pos;
  for (let i = 1; i <= 10; i++) pos = await hub.publish('why.a', i); // 6..10 kept
  const ep = pos!.epoch;
  let unsubId = 9_000;
  const cases: Array<[string, { offset: number; epoch: string }, string | undefined]> = [
    ['another epoch', { offset: 10, epoch: 'not-' + ep }, 'reset'],
    ['beyond the end of the stream', { offset: 11, epoch: ep }, 'reset'],
    ['older than the oldest kept', { offset: 2, epoch: ep }, 'trimmed'],
    ['kept but more than recoveryCap behind', { offset: 6, epoch: ep }, 'cap'],
    ['recoverable', { offset: 7, epoch: ep }, undefined],
  ];
  for (const [what, since, reason] of cases) {
    const r = await sub(c, 'why.a', { since });
    t.equal(r.res.recovered, reason === undefined, `${what}: recovered is ${reason === undefined}`);
    t.equal(r.res.reason, reason, `${what}: reason ${reason}`);
    const id = unsubId++;
    c.send({ op: 'unsub', id, ch: 'why.a' });
    await c.reply(id);
  }
  storage.evict('why.a');
  const r = await sub(c, 'why.a', { since: { offset: 10, epoch: ep } });
  t.equal(r.res.reason, 'reset', 'an evicted stream: reset');
});

t.test(
  'a resubscribe from another epoch (the subscriber was away during the reset) replays the new epoch from its start after one reset',
  async (t) => {
    const { hub, storage } = setup(t);
    const old = await hub.publish('reset.away', 'old');
    storage.evict('reset.away');
    let fresh;
    for (let i = 1; i <= 4; i++) fresh = await hub.publish('reset.away', i);
    const c = fakeClient(hub);
    const r = await sub(c, 'reset.away', { qos: 1, since: { offset: old.offset, epoch: old.epoch } });
    t.same(r.res, { recovered: false, reason: 'reset', position: { offset: 0, epoch: fresh!.epoch } });
    await received(c, 'reset.away', 4);
    t.same(offsets(c, 'reset.away'), [1, 2, 3, 4], 'every message of the new epoch');
  },
);

/** The memory store with a gate: while `held`, each read and state call waits for `release()`. */
class GatedStorage extends MemoryStorage {
  held = false;
  private waiting: Array<{ what: string; go: () => void }> = [];
  private arrived: Array<() => void> = [];
  private async gate(what: string): Promise<void> {
    if (!this.held) return;
    await new Promise<void>((go) => {
      this.waiting.push({ what, go });
      for (const f of this.arrived.splice(0)) f();
    });
  }
  /** Resolves once `n` calls wait at the gate. */
  async queued(n: number): Promise<string[]> {
    while (this.waiting.length < n) await new Promise<void>((r) => this.arrived.push(r));
    return this.waiting.map((w) => w.what);
  }
  /** Lets the waiting call at index `i` of the queue through. */
  release(i: number): void {
    const [w] = this.waiting.splice(i, 1);
    w!.go();
  }
  override async read(...a: Parameters<MemoryStorage['read']>) {
    await this.gate(`read after ${a[1]}`);
    return super.read(...a);
  }
  override async state(...a: Parameters<MemoryStorage['state']>) {
    await this.gate('state');
    return super.state(...a);
  }
}

for (const qos of [0, 1] as const)
  t.test(
    `QoS ${qos}: a live message of the new epoch during the re-check's state read: the catch-up started by it does not continue from the old epoch's offset (CI defect of stops 18-19: a jump to offset 41 after the reset)`,
    async (t) => {
      const storage = new GatedStorage();
      const bus = new ManualBus();
      const hub = new Switchyard({ closeTimeout: 10, engine: { storage, broker: bus } });
      t.teardown(() => hub.close());
      const c = fakeClient(hub);
      await sub(c, 'reset.race', qos ? { qos } : {});
      let old;
      for (let i = 1; i <= 40; i++) old = await hub.publish('reset.race', i);
      await received(c, 'reset.race', 40);
      if (qos) c.send({ op: 'ack', ch: 'reset.race', off: 40 });
      const from = c.t.frames.length;
      // Redis restarted: the stream is gone, and the new epoch got 45 messages the bus dropped.
      bus.mode = 'drop';
      storage.evict('reset.race');
      let fresh;
      for (let i = 1; i <= 45; i++) fresh = await hub.publish('reset.race', i);
      bus.mode = 'pass';
      storage.held = true;
      bus.sink!.interrupted(); // the re-check asks for the channel's state (held)
      t.same(await storage.queued(1), ['state']);
      // Meanwhile message 46 of the new epoch arrives live: the subscription starts its own
      // catch-up, which reads after its old-epoch position, 40 (held too).
      await hub.publish('reset.race', 46);
      t.same(await storage.queued(2), ['state', 'read after 40']);
      // The re-check learns of the reset first (its continuation runs within this turn's
      // microtasks, so one setImmediate is enough); then the catch-up's read, made from 40, answers.
      storage.release(0);
      await new Promise((r) => setImmediate(r));
      storage.held = false;
      storage.release(0);
      await frame(c, (f) => f.op === 'msg' && f.ep === fresh!.epoch && f.off === 46, 'msg 46 of the new epoch');
      const epochs = new Map([
        [old!.epoch, 'E1'],
        [fresh!.epoch, 'E2'],
      ]);
      const s = story(c, 'reset.race', from, epochs);
      t.same(
        s.filter((x) => x.startsWith('gap')),
        ['gap:reset@E2:0'],
        'one reset notice',
      );
      t.same(
        audit(offsets(c, 'reset.race', from), 1, 46),
        { lost: 0, duplicated: 0, outOfOrder: 0 },
        `then the new epoch from offset 1, every message once, in order (${s.slice(0, 4).join(' ')} …)`,
      );
    },
  );
