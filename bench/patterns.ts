/**
 * Adversarial pattern subscriptions (issue 9 item 5): fills a hub (memory engine, default
 * limits) with the most expensive distinct patterns clients may subscribe — 255 bytes, 128
 * segments mixing `*` and literals, each matching a published channel's first 254 bytes and
 * failing only on its last segment — and reports the time one `hub.publish()` blocks the event
 * loop, the time of matching alone, and the heap per pattern subscription.
 *
 *   node --expose-gc --import=@tapjs/typescript/import bench/patterns.ts [--connections 32] [--publishes 2000]
 *
 * Defaults: limits.maxPatternsPerConnection (32) × as many connections as it takes to reach
 * limits.maxPatternsPerHub (1,000 distinct patterns).
 */
import { parseArgs } from 'node:util';
import { Switchyard } from '../lib/hub.js';
import { DEFAULT_LIMITS } from '../lib/options.js';
import type { ConnectionInput, OutgoingFrame, Transport } from '../lib/transport.js';

const { values } = parseArgs({
  options: { connections: { type: 'string' }, publishes: { type: 'string', default: '2000' } },
});
// (The fallbacks let the same script measure a hub from before these limits existed.)
const defaults = DEFAULT_LIMITS as { maxPatternsPerConnection?: number; maxPatternsPerHub?: number };
const perConn = defaults.maxPatternsPerConnection ?? 32;
const connections = Number(values.connections ?? Math.ceil((defaults.maxPatternsPerHub ?? 256) / perConn));
const publishes = Number(values.publishes);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** A socket that only counts what it is sent. */
class NullTransport implements Transport {
  frames = 0;
  bufferedAmount = 0;
  send(_f: OutgoingFrame): void {
    this.frames++;
  }
  close(): void {}
  terminate(): void {}
}

// 128 segments of one character: "a.a.….a" is 255 bytes. Pattern k spells k in binary with
// '*' for 1 bits over its first segments, so all are distinct and share no prefix beyond those
// (a segment trie would hold ~118 nodes of its own per pattern and visit all of them), and all
// are consistent with the channel up to the last segment, where they say "b" and it says "a".
const SEGS = 128;
const channel = Array(SEGS).fill('a').join('.');
function adversarial(k: number): string {
  const segs = Array(SEGS).fill('a');
  for (let bit = 0; bit < 20; bit++) if (k & (1 << bit)) segs[bit] = '*';
  segs[SEGS - 1] = 'b';
  return segs.join('.');
}

const hub = new Switchyard({ heartbeatInterval: 3_600_000 });
const inputs: ConnectionInput[] = [];
const transports: NullTransport[] = [];
for (let c = 0; c < connections; c++) {
  const tr = new NullTransport();
  transports.push(tr);
  inputs.push(hub.accept(tr, undefined));
}
await new Promise((r) => setTimeout(r, 10));
gc();
const before = process.memoryUsage().heapUsed;
let id = 1;
let k = 0;
for (let c = 0; c < connections; c++)
  for (let i = 0; i < perConn; i++)
    inputs[c]!.receive(JSON.stringify({ op: 'sub', id: id++, ch: adversarial(k++) }), false);
await new Promise((r) => setTimeout(r, 50));
gc();
const after = process.memoryUsage().heapUsed;
const m = hub.metrics();
const subs = m.subscriptions;
const refused = transports.reduce((n, t) => n + t.frames, 0) - connections - subs; // frames = welcome + one reply per subscribe

const router = (hub as unknown as { router: { match(ch: string, fn: (v: unknown) => void): void } }).router;
let matched = 0;
for (let i = 0; i < 200; i++) router.match(channel, () => matched++); // warm-up
let t0 = performance.now();
for (let i = 0; i < publishes; i++) router.match(channel, () => matched++);
const matchMs = (performance.now() - t0) / publishes;

for (let i = 0; i < 200; i++) await hub.publish(channel, i);
let worst = 0;
t0 = performance.now();
for (let i = 0; i < publishes; i++) {
  const s = performance.now();
  // hub.publish runs synchronously up to the first await inside the memory engine: time the whole call.
  const p = hub.publish(channel, i);
  worst = Math.max(worst, performance.now() - s);
  await p;
}
const publishMs = (performance.now() - t0) / publishes;

console.log(
  JSON.stringify(
    {
      connections,
      patternSubscriptions: subs,
      refused,
      distinctPatterns: (hub as unknown as { router: { distinctPatterns?: number } }).router.distinctPatterns ?? null,
      heapBytesPerPatternSubscription: Math.round((after - before) / subs),
      matchMsPerPublish: Number(matchMs.toFixed(4)),
      publishMsMean: Number(publishMs.toFixed(4)),
      publishMsWorstSyncPart: Number(worst.toFixed(3)),
      matchedInMatchLoop: matched,
    },
    null,
    2,
  ),
);
await hub.close();
