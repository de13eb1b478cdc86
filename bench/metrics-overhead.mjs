// What metrics cost on the fan-out path alone, without sockets: two hubs in one process, one with
// metrics on (the default) and one with `metrics: false`, each fanning out to 1,000 in-memory
// transports whose send() only counts. Rounds alternate between the hubs so drift hits both; the
// figure is the median CPU time per delivery of each. Since real socket writes are left out, the
// relative cost here is an upper bound of what the gate benchmark (bench/run.mjs) can show.
//   npm run build && node bench/metrics-overhead.mjs [--rounds=21] [--subs=1000] [--messages=200]
import { Switchyard } from '../dist/lib/index.js';

const arg = (n, d) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.split('=')[1] ?? d);
const ROUNDS = arg('rounds', 21);
const SUBS = arg('subs', 1000);
const MESSAGES = arg('messages', 200);

function setup(metrics) {
  const hub = new Switchyard({ metrics });
  let delivered = 0;
  const transport = { send: () => void delivered++, close() {}, terminate() {}, bufferedAmount: 0 };
  for (let i = 0; i < SUBS; i++)
    hub.accept(transport, undefined).receive(JSON.stringify({ op: 'sub', id: 1, ch: 'bench' }), false);
  return { hub, count: () => delivered };
}

async function round(h) {
  const before = h.count();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < MESSAGES; i++) await h.hub.publish('bench', { i, pad: 'x'.repeat(40) });
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / (h.count() - before);
}

const on = setup(true);
const off = setup(false);
await new Promise((r) => setTimeout(r, 200)); // subscriptions settle (catch-ups end)
for (let i = 0; i < 3; i++) await round(on), await round(off); // warm-up
const r = { on: [], off: [] };
for (let i = 0; i < ROUNDS; i++) {
  // Alternate which goes first, so neither always runs right after a GC of the other.
  const order = i % 2 ? ['on', 'off'] : ['off', 'on'];
  for (const k of order) r[k].push(await round(k === 'on' ? on : off));
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const mOn = median(r.on);
const mOff = median(r.off);
console.log(`fan-out to ${SUBS} in-memory transports, ${MESSAGES} messages × ${ROUNDS} rounds each`);
console.log(`metrics on : ${(mOn * 1000).toFixed(1)} ns CPU per delivery (median)`);
console.log(`metrics off: ${(mOff * 1000).toFixed(1)} ns CPU per delivery (median)`);
console.log(`on ÷ off   : ${(mOn / mOff).toFixed(3)}`);
console.log(`deliveries timed by the sampler: ${on.hub.metrics().deliverySeconds.count}`);
await Promise.all([on.hub.close(), off.hub.close()]);
