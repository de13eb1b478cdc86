// Shared helpers of the guarantee tests: a hub over fake transports with an injectable clock,
// a seeded PRNG, and small readers of what a fake client received.
import { Switchyard } from '../../lib/hub.js';
import { memoryEngine } from '../../lib/engine-memory.js';
import type { Connection } from '../../lib/connection.js';
import type { SwitchyardOptions } from '../../lib/options.js';
import type { Broker, BrokerMessage, BrokerSink } from '../../lib/engine.js';
import { fakeClient } from '../helpers/fake-transport.js';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A manual monotonic clock for MemoryStorage: time moves only when the test says so. */
export class ManualClock {
  t = 1_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A hub on the memory engine with a manual clock; closed in teardown without waiting on fake sockets. */
export function coreHub(
  t: Teardown,
  options: SwitchyardOptions = {},
  clock = new ManualClock(),
): { hub: Switchyard; clock: ManualClock; engine: ReturnType<typeof memoryEngine> } {
  const engine = memoryEngine({ now: clock.now });
  const hub = new Switchyard({ closeTimeout: 10, ...options, engine: options.engine ?? engine });
  t.teardown(() => hub.close());
  return { hub, clock, engine };
}

/** Deterministic PRNG (mulberry32) so random schedules replay identically from a seed; shared with the load tester. */
export { prng } from '../../tools/loadtest/audience.js';

export type Fake = ReturnType<typeof fakeClient>;

let nextReq = 1;

/** Sends a `sub` frame and resolves with its reply frame. */
export async function sub(c: Fake, ch: string, extra: Record<string, unknown> = {}): Promise<any> {
  const id = nextReq++;
  c.send({ op: 'sub', id, ch, ...extra });
  return c.reply(id);
}

/** Offsets of the `msg` frames for `ch` received after the frame at index `from`. */
export function offsets(c: Fake, ch: string, from = 0): number[] {
  return c.t.frames
    .slice(from)
    .filter((f) => f.op === 'msg' && f.ch === ch)
    .map((f) => f.off);
}

/** The server-side connection behind a fake client. */
export function conn(c: Fake): Connection {
  return c.input as Connection;
}

/**
 * Resolves with the first frame matching `pred`; rejects after `ms`. The timer also keeps the
 * process alive while the hub's (unref'd) tick is what must make progress.
 */
export function frame(c: Fake, pred: (f: any) => boolean, what: string, ms = 5_000): Promise<any> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    c.t.next(pred),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Resolves once the fake client received a `msg` for `ch` with offset >= `offset`. */
export function received(c: Fake, ch: string, offset: number): Promise<any> {
  return frame(c, (f) => f.op === 'msg' && f.ch === ch && f.off >= offset, `msg ${ch}@${offset}`);
}

/** Every ordered pair-wise problem in a sequence of offsets expected to be `first..last`. */
export function audit(
  seen: number[],
  first: number,
  last: number,
): { lost: number; duplicated: number; outOfOrder: number } {
  const counts = new Map<number, number>();
  let outOfOrder = 0;
  for (let i = 0; i < seen.length; i++) {
    counts.set(seen[i]!, (counts.get(seen[i]!) ?? 0) + 1);
    if (i > 0 && seen[i]! <= seen[i - 1]!) outOfOrder++;
  }
  let lost = 0;
  let duplicated = 0;
  for (let o = first; o <= last; o++) if (!counts.has(o)) lost++;
  for (const n of counts.values()) if (n > 1) duplicated += n - 1;
  return { lost, duplicated, outOfOrder };
}

export { fakeClient };

/** A bus the test controls: it holds, drops or releases each published message. */
export class ManualBus implements Broker {
  sink: BrokerSink | undefined;
  held: BrokerMessage[] = [];
  mode: 'pass' | 'hold' | 'drop' = 'pass';
  async start(sink: BrokerSink): Promise<void> {
    this.sink = sink;
  }
  async publish(m: BrokerMessage): Promise<void> {
    if (this.mode === 'pass') this.sink?.message(m);
    else if (this.mode === 'hold') this.held.push(m);
  }
  release(): void {
    for (const m of this.held.splice(0)) this.sink?.message(m);
  }
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  async close(): Promise<void> {}
}
