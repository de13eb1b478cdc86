// Cost of connection expiry on the hub's timer: ExpiryTable.check() with N expiring connections,
// when nothing is due (every 100 ms tick pays this) and when a deadline is due (a full scan).
// `npm run build && node bench/expiry.mjs [N]`. Noisy on a shared machine; compare orders of magnitude.
import { performance } from 'node:perf_hooks';
import { ExpiryTable } from '../dist/lib/refresh.js';

const N = Number(process.argv[2] ?? 100_000);
const table = new ExpiryTable(30_000);
const now = Date.now();
const conns = Array.from({ length: N }, () => ({
  open: true,
  sendJson() {},
  close() {
    this.open = false;
  },
}));
// Deadlines spread over the next hour, as tokens issued at different times would be.
conns.forEach((c, i) => table.set(c, now + 60_000 + Math.floor((i / N) * 3_600_000), now));

function time(label, rounds, fn) {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) fn(i);
  const us = ((performance.now() - t0) * 1000) / rounds;
  console.log(`${label}: ${us.toFixed(2)} µs per check`);
}
time(`nothing due, ${N} connections`, 100_000, () => table.check(now + 1_000));
// The hub's 100 ms ticks over 10 simulated minutes: about N/36,000 deadlines fall into each tick.
time(`100 ms ticks with deadlines due, ${N} connections spread over an hour`, 6_000, (i) =>
  table.check(now + 30_000 + i * 100),
);
