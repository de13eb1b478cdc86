/**
 * The load-test report: figures, the correctness verdict, and its two renderings (a table for
 * people, JSON for machines).
 * @module
 */
import type { RecordableHistogram } from 'node:perf_hooks';
import type { StreamCounts } from './checker.js';
import type { LoadtestConfig } from './config.js';
import type { ClientTotals } from './stats.js';

/** What the publisher did. */
export interface PublishTotals {
  attempted: number;
  ok: number;
  failed: number;
  errors: Record<string, number>;
  /** Ticks where the publisher had too many unanswered publishes and fell behind the rate. */
  skippedTicks: number;
  /** Publish round-trip (until the server acknowledged storage), microseconds. */
  latency: RecordableHistogram;
}

/** Percentiles in milliseconds. */
export type Percentiles = Record<string, number>;

/** The final report (`--json` prints exactly this). */
export interface Report {
  config: Omit<LoadtestConfig, 'apiKey' | 'json' | 'progress'>;
  durationMs: { total: number; rampUp: number; publishing: number; draining: number };
  clients: Omit<ClientTotals, 'qos' | 'closes' | 'errors' | 'recoveries' | 'discontinuities' | 'handled' | 'droppedNotices'>;
  connectLatencyMs: Percentiles;
  deliveryLatencyMs: Percentiles;
  publishLatencyMs: Percentiles;
  publishes: { attempted: number; ok: number; failed: number; errors: Record<string, number>; behindRate: boolean };
  deliveries: { handled: number; perSecond: number; expected: number; delivered: number; ratio: number };
  qos: { '0': StreamCounts; '1': StreamCounts };
  recoveries: { succeeded: number; failed: number };
  discontinuities: Record<string, number>;
  droppedByServer: number;
  closes: Record<string, number>;
  errors: Record<string, number>;
  /** Empty when every correctness check passed. */
  failures: string[];
  passed: boolean;
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Percentiles of a microsecond histogram, in milliseconds; empty when nothing was recorded. */
export function percentiles(h: RecordableHistogram, ps: number[]): Percentiles {
  const out: Percentiles = {};
  if (h.count === 0) return out;
  for (const p of ps) out[`p${p}`] = ms(h.percentile(p));
  out.max = ms(h.max);
  out.count = h.count;
  return out;
}

/** The correctness verdict: each failed check as a sentence. */
export function judge(qos: [StreamCounts, StreamCounts], t: Pick<ClientTotals, 'neverSubscribed' | 'clients'>, expectedSomething: boolean): string[] {
  const f: string[] = [];
  qos.forEach((c, q) => {
    if (c.lostSilent > 0) f.push(`QoS ${q}: ${c.lostSilent} messages lost without any signal`);
    if (c.duplicated > 0) f.push(`QoS ${q}: ${c.duplicated} messages delivered twice`);
    if (c.outOfOrder > 0) f.push(`QoS ${q}: ${c.outOfOrder} messages delivered out of order`);
  });
  if (qos[1].lostSignalled > 0) f.push(`QoS 1: ${qos[1].lostSignalled} messages lost (signalled as a discontinuity, but QoS 1 must not lose any)`);
  if (t.neverSubscribed > 0) f.push(`${t.neverSubscribed} of ${t.clients} clients never got a subscription confirmed`);
  if (expectedSomething && qos[0].expected + qos[1].expected === 0) f.push('no message was expected by any client: nothing was checked');
  return f;
}

export interface RawResults {
  totals: ClientTotals;
  connectLatency: RecordableHistogram;
  deliveryLatency: RecordableHistogram;
  publish: PublishTotals;
  timing: { rampUp: number; publishing: number; draining: number };
  elapsed: number;
}

/** Turns merged worker results into the report. */
export function buildReport(cfg: LoadtestConfig, r: RawResults): Report {
  const t = r.totals;
  const expected = t.qos[0].expected + t.qos[1].expected;
  const delivered = t.qos[0].delivered + t.qos[1].delivered;
  const failures = judge(t.qos, t, r.publish.ok > 0);
  const { apiKey: _k, json: _j, progress: _p, ...config } = cfg;
  const deliverySecs = (r.timing.publishing + r.timing.draining) / 1000;
  return {
    config,
    durationMs: { total: r.elapsed, ...r.timing },
    clients: {
      clients: t.clients,
      connected: t.connected,
      neverConnected: t.neverConnected,
      neverSubscribed: t.neverSubscribed,
      reconnects: t.reconnects,
      forcedDrops: t.forcedDrops,
      pauses: t.pauses,
    },
    connectLatencyMs: percentiles(r.connectLatency, [50, 95, 99]),
    deliveryLatencyMs: percentiles(r.deliveryLatency, [50, 90, 99, 99.9]),
    publishLatencyMs: percentiles(r.publish.latency, [50, 99]),
    publishes: { attempted: r.publish.attempted, ok: r.publish.ok, failed: r.publish.failed, errors: r.publish.errors, behindRate: r.publish.skippedTicks > 0 },
    deliveries: { handled: t.handled, perSecond: deliverySecs > 0 ? Math.round(t.handled / deliverySecs) : 0, expected, delivered, ratio: expected ? delivered / expected : 1 },
    qos: { '0': t.qos[0], '1': t.qos[1] },
    recoveries: t.recoveries,
    discontinuities: t.discontinuities,
    droppedByServer: t.droppedNotices,
    closes: t.closes,
    errors: t.errors,
    failures,
    passed: failures.length === 0,
  };
}

const n = (x: number): string => x.toLocaleString('en-US');
const f = (x: number | undefined): string => (x === undefined ? '-' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : n(Math.round(x)));

function pct(p: Percentiles, keys: string[]): string {
  if (p.count === undefined) return 'no samples';
  return keys.map((k) => `${k} ${f(p[k])}`).join('   ') + '  ms';
}

function record(r: Record<string, number>): string {
  const e = Object.entries(r).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${k} ×${n(v)}`).join(', ') : 'none';
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

/** The report as a table for a terminal. */
export function formatReport(r: Report): string {
  const c = r.config;
  const L: string[] = [];
  const row = (k: string, v: string): number => L.push(`${k.padEnd(22)}${v}`);
  L.push(
    `switchyard loadtest: ${n(c.clients)} clients over ${n(c.channels)} channels (${c.spread}), QoS ${c.qos}, ${n(c.rate)} pub/s × ${c.duration / 1000} s, ` +
      `payload ${n(c.payloadBytes)} B, churn ${Math.round(c.churn * 100)} %, pauses ${Math.round(c.pauses * 100)} %, ${c.workers} workers`,
  );
  L.push('');
  row('clients', `${n(r.clients.connected)} connected, ${n(r.clients.neverConnected)} never connected, ${n(r.clients.reconnects)} reconnects (${n(r.clients.forcedDrops)} forced drops, ${n(r.clients.pauses)} pauses)`);
  row('connect latency', pct(r.connectLatencyMs, ['p50', 'p95', 'p99']));
  row('publish→deliver', pct(r.deliveryLatencyMs, ['p50', 'p90', 'p99', 'p99.9', 'max']));
  row('publish ack', pct(r.publishLatencyMs, ['p50', 'p99', 'max']));
  row('publishes', `${n(r.publishes.ok)} ok, ${n(r.publishes.failed)} failed${r.publishes.behindRate ? ' (publisher fell behind the rate)' : ''}`);
  row('deliveries', `${n(r.deliveries.handled)} handled, ${n(r.deliveries.perSecond)}/s, delivered ÷ expected ${(r.deliveries.ratio * 100).toFixed(2)} % (${n(r.deliveries.delivered)} / ${n(r.deliveries.expected)})`);
  L.push('');
  const head = ['QoS', 'expected', 'delivered', 'lost silent', 'lost signalled', 'duplicated', 'out of order'];
  L.push(head.map((h, i) => pad(h, i ? 15 : 5)).join(''));
  for (const q of ['0', '1'] as const) {
    const k = r.qos[q];
    if (k.expected === 0 && k.delivered === 0 && k.duplicated === 0) continue;
    L.push([q, k.expected, k.delivered, k.lostSilent, k.lostSignalled, k.duplicated, k.outOfOrder].map((v, i) => pad(typeof v === 'number' ? n(v) : v, i ? 15 : 5)).join(''));
  }
  L.push('');
  row('recoveries', `${n(r.recoveries.succeeded)} succeeded, ${n(r.recoveries.failed)} failed`);
  row('discontinuities', record(r.discontinuities));
  row('dropped by server', n(r.droppedByServer));
  row('closes by code', record(r.closes));
  row('errors', record(r.errors));
  if (r.publishes.failed) row('publish errors', record(r.publishes.errors));
  row('time', `${(r.durationMs.total / 1000).toFixed(1)} s (ramp-up ${(r.durationMs.rampUp / 1000).toFixed(1)}, publishing ${(r.durationMs.publishing / 1000).toFixed(1)}, drain ${(r.durationMs.draining / 1000).toFixed(1)})`);
  L.push('');
  if (r.passed) L.push('PASS: nothing lost, duplicated or reordered');
  else for (const x of r.failures) L.push(`FAIL: ${x}`);
  return L.join('\n');
}

/** The one-line live progress display. */
export function formatProgress(p: { phase: string; elapsed: number; clients: number; connected: number; subscribed: number; handled: number; reconnects: number; published: number; publishErrors: number }, rate: number): string {
  return `[${(p.elapsed / 1000).toFixed(0).padStart(4)} s] ${p.phase.padEnd(10)} clients ${n(p.subscribed)}/${n(p.clients)}  reconnects ${n(p.reconnects)}  published ${n(p.published)}${p.publishErrors ? ` (${n(p.publishErrors)} failed)` : ''}  delivered ${n(p.handled)} (${n(Math.round(rate))}/s)`;
}
