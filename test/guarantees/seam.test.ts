// The catch-up/live seam ([BRIEF §4], issue 3 item 3): a subscriber resuming while the channel
// is being published to receives every offset after its position exactly once, in order. The
// store is wrapped so its reads take a random number of event-loop turns, which lets live
// messages arrive while history is being read — the interleaving the seam must survive.
import t from 'tap';
import { Switchyard } from '../../lib/hub.js';
import { LocalBroker } from '../../lib/broker-local.js';
import { MemoryStorage } from '../../lib/history-memory.js';
import type { Storage } from '../../lib/engine.js';
import { audit, fakeClient, prng, received, sub, type Fake } from './helpers.js';

function slowStorage(inner: Storage, rnd: () => number): Storage {
  const turns = async (): Promise<void> => {
    const n = Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++)
      await new Promise((r) => (rnd() < 0.5 ? setImmediate(r) : queueMicrotask(r as () => void)));
  };
  return {
    append: async (ch, p, o) => {
      const r = await inner.append(ch, p, o);
      return r;
    },
    read: async (ch, after, limit) => {
      await turns();
      const r = await inner.read(ch, after, limit);
      await turns();
      return r;
    },
    state: async (ch) => {
      await turns();
      return inner.state(ch);
    },
    close: () => inner.close(),
  };
}

/** Acknowledges every QoS 1 delivery a microtask after it arrived, like a fast handler. */
function autoAck(c: Fake): void {
  const send = c.t.send.bind(c.t);
  c.t.send = (frame) => {
    send(frame);
    const f = c.t.frames.at(-1);
    if (f.op === 'msg') queueMicrotask(() => c.send({ op: 'ack', ch: f.ch, off: f.off }));
  };
}

async function trial(
  seed: number,
  qos: 0 | 1,
  window: number,
): Promise<{ seen: number[]; since: number; last: number; recovered: boolean }> {
  const rnd = prng(seed);
  const hub = new Switchyard({
    closeTimeout: 10,
    engine: { storage: slowStorage(new MemoryStorage(), rnd), broker: new LocalBroker() },
    history: { size: 1_000 },
    limits: { inflightWindow: window },
  });
  try {
    const ch = 'seam.x';
    const before = 1 + Math.floor(rnd() * 20);
    let epoch = '';
    for (let i = 0; i < before; i++) epoch = (await hub.publish(ch, { i })).epoch;
    const since = Math.floor(rnd() * (before + 1));
    const total = before + 30;
    const c = fakeClient(hub);
    if (qos === 1) autoAck(c);
    // The publisher keeps going while the subscribe, its catch-up and the switch to live happen.
    const publisher = (async () => {
      for (let i = before; i < total; i++) {
        await hub.publish(ch, { i });
        if (rnd() < 0.5) await new Promise((r) => setImmediate(r));
      }
    })();
    if (rnd() < 0.5) await new Promise((r) => setImmediate(r));
    const reply = await sub(c, ch, { since: { offset: since, epoch }, ...(qos ? { qos } : {}) });
    await publisher;
    // A stuck seam would leave nothing scheduled; the timer keeps the process alive to report it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([received(c, ch, total), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    const seen = c.t.frames.filter((f) => f.op === 'msg').map((f) => f.off);
    return { seen, since, last: total, recovered: reply.res.recovered };
  } finally {
    await hub.close();
  }
}

for (const [qos, window] of [
  [0, 256],
  [1, 256],
  [1, 3],
] as const) {
  t.test(
    `QoS ${qos} (in-flight window ${window}): 200 trials of resuming while publishing deliver every offset once, in order`,
    async (t) => {
      let bad = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const r = await trial(seed * 7919 + qos * 13 + window, qos, window);
        const a = audit(r.seen, r.since + 1, r.last);
        const contiguous = r.seen.length === r.last - r.since && r.seen.every((o, i) => o === r.since + 1 + i);
        if (!r.recovered || a.lost || a.duplicated || a.outOfOrder || !contiguous) {
          bad++;
          if (bad <= 3)
            t.fail(
              `seed ${seed}: recovered=${r.recovered} since=${r.since} ${JSON.stringify(a)} seen=${r.seen.join(',')}`,
            );
        }
      }
      t.equal(bad, 0, 'trials with a gap, duplicate or reordering');
    },
  );
}
