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
  config: Omit<LoadtestConfig, 'apiKey' | 'json' | 'progress' | 'auth'> & {
    auth: { token: boolean; headers: string[] };
  };
  /** `rampUp` is the configured ramp-up actually spent; `waitingForAudience` the wait after it for clients still subscribing. */
  durationMs: { total: number; rampUp: number; waitingForAudience: number; publishing: number; draining: number };
  clients: Omit<
    ClientTotals,
    'qos' | 'closes' | 'errors' | 'recoveries' | 'discontinuities' | 'handled' | 'droppedNotices'
  >;
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
  /** What probably caused the failures and what to change; one sentence each. */
  explanations: string[];
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
export function judge(
  qos: [StreamCounts, StreamCounts],
  t: Pick<ClientTotals, 'neverSubscribed' | 'clients' | 'connected'>,
  expectedSomething: boolean,
): string[] {
  const f: string[] = [];
  if (t.clients > 0 && t.connected === 0)
    f.push(`no client ever connected (0 of ${t.clients}): nothing was published or checked`);
  qos.forEach((c, q) => {
    if (c.lostSilent > 0) f.push(`QoS ${q}: ${c.lostSilent} messages lost without any signal`);
    if (c.duplicated > 0) f.push(`QoS ${q}: ${c.duplicated} messages delivered twice`);
    if (c.outOfOrder > 0) f.push(`QoS ${q}: ${c.outOfOrder} messages delivered out of order`);
  });
  if (qos[1].lostSignalled > 0)
    f.push(`QoS 1: ${qos[1].lostSignalled} messages lost (signalled as a discontinuity, but QoS 1 must not lose any)`);
  if (t.neverSubscribed > 0) f.push(`${t.neverSubscribed} of ${t.clients} clients never got a subscription confirmed`);
  if (expectedSomething && qos[0].expected + qos[1].expected === 0)
    f.push('no message was expected by any client: nothing was checked');
  return f;
}

/** Failures of the publishing side: a run whose every publish failed checked nothing. */
export function judgePublishes(p: Pick<PublishTotals, 'attempted' | 'ok' | 'failed'>): string[] {
  return p.attempted > 0 && p.ok === 0
    ? [`every publish failed (${p.failed} of ${p.attempted}): nothing was checked`]
    : [];
}

export interface RawResults {
  totals: ClientTotals;
  connectLatency: RecordableHistogram;
  deliveryLatency: RecordableHistogram;
  publish: PublishTotals;
  timing: { rampUp: number; waitingForAudience: number; publishing: number; draining: number };
  elapsed: number;
}

const top = (r: Record<string, number>): string | undefined => Object.entries(r).sort((a, b) => b[1] - a[1])[0]?.[0];

/** Likely causes of the failures, from the errors, close codes and discontinuities the clients saw. */
export function explain(
  t: ClientTotals,
  publish: PublishTotals,
  cfg: Pick<LoadtestConfig, 'auth' | 'spawnServer' | 'publish'>,
): string[] {
  const why: string[] = [];
  const errors = Object.keys(t.errors).join(' ');
  const refused = /HTTP (40[13])/.exec(errors)?.[1];
  if (t.neverConnected > 0) {
    if (refused) {
      const sent = cfg.auth.token !== undefined || Object.keys(cfg.auth.headers).length > 0;
      why.push(
        `${t.neverConnected} clients were refused with HTTP ${refused} by the server's authenticate hook: ` +
          (sent
            ? 'the --token/--header/--cookie given were not accepted; check them (use {i} for per-client values)'
            : 'pass credentials it accepts with --token, --header or --cookie'),
      );
    } else {
      why.push(
        `${t.neverConnected} clients never connected (${top(t.errors) ?? `closes: ${top(t.closes) ?? 'none'}`}): check --url and that the server is up and reachable`,
      );
    }
  }
  const disc = t.discontinuities;
  const q1lost = t.qos[1].lostSignalled;
  if (q1lost > 0 && (disc.unrecoverable || disc.trimmed)) {
    why.push(
      `QoS 1 lost, signalled: the channel history did not cover what disconnected or paused clients missed ` +
        `(${disc.unrecoverable ?? 0} unrecoverable resubscribes, ${disc.trimmed ?? 0} trimmed catch-ups) — raise the server's history.size ` +
        `(and history.recoveryCap, history.ttl) above rate per channel × the longest absence, or lower --rate, --churn-interval or --pause-length`,
    );
  }
  if (disc.reset)
    why.push(
      `${disc.reset} resets: a channel's epoch changed during the run (the server restarted, or its engine evicted the channel's history)`,
    );
  if (q1lost > 0 && disc.gap)
    why.push(
      `QoS 1 gaps (${disc.gap}): a QoS 1 stream skipped offsets, which the server must never do; report it with --seed`,
    );
  if (
    t.qos[0].lostSilent +
      t.qos[1].lostSilent +
      t.qos[0].duplicated +
      t.qos[1].duplicated +
      t.qos[0].outOfOrder +
      t.qos[1].outOfOrder >
    0
  ) {
    why.push(
      "messages lost without a signal, duplicated or reordered break switchyard's guarantees: report it with the command line and --seed",
    );
  }
  if (publish.failed > 0) {
    const e = top(publish.errors) ?? '';
    const fix = /HTTP 401/.test(e)
      ? ': pass the HTTP API key with --api-key'
      : /HTTP 429|^106\b/.test(e)
        ? ': the server rate-limited the publisher; raise limits.publishesPerSecond or lower --rate'
        : /^108\b/.test(e)
          ? ": the server's channel rules do not let clients publish to loadtest.* channels; add { match: 'loadtest.>', clientPublish: true } or use --publish http"
          : /^107\b/.test(e)
            ? ": the server's authorize hook denied the publisher's publishes to loadtest.* channels"
            : '';
    why.push(`${publish.failed} publishes failed (most often: ${e})${fix}`);
  }
  return why;
}

/** Turns merged worker results into the report. */
export function buildReport(cfg: LoadtestConfig, r: RawResults): Report {
  const t = r.totals;
  const expected = t.qos[0].expected + t.qos[1].expected;
  const delivered = t.qos[0].delivered + t.qos[1].delivered;
  const failures = [...judge(t.qos, t, r.publish.ok > 0), ...judgePublishes(r.publish)];
  const explanations = failures.length > 0 ? explain(t, r.publish, cfg) : [];
  // Credentials never reach the report: only whether they were given.
  const { apiKey: _k, json: _j, progress: _p, auth, ...rest } = cfg;
  const config = { ...rest, auth: { token: auth.token !== undefined, headers: Object.keys(auth.headers) } };
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
    publishes: {
      attempted: r.publish.attempted,
      ok: r.publish.ok,
      failed: r.publish.failed,
      errors: r.publish.errors,
      behindRate: r.publish.skippedTicks > 0,
    },
    deliveries: {
      handled: t.handled,
      perSecond: deliverySecs > 0 ? Math.round(t.handled / deliverySecs) : 0,
      expected,
      delivered,
      ratio: expected ? delivered / expected : 1,
    },
    qos: { '0': t.qos[0], '1': t.qos[1] },
    recoveries: t.recoveries,
    discontinuities: t.discontinuities,
    droppedByServer: t.droppedNotices,
    closes: t.closes,
    errors: t.errors,
    failures,
    explanations,
    passed: failures.length === 0,
  };
}

const n = (x: number): string => x.toLocaleString('en-US');
const f = (x: number | undefined): string =>
  x === undefined ? '-' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : n(Math.round(x));

function pct(p: Percentiles, keys: string[]): string {
  if (p.count === undefined) return 'no samples';
  return keys.map((k) => `${k} ${f(p[k])}`).join('   ') + '  ms';
}

function record(r: Record<string, number>, most = 5): string {
  const e = Object.entries(r).sort((a, b) => b[1] - a[1]);
  if (!e.length) return 'none';
  const shown = e
    .slice(0, most)
    .map(([k, v]) => `${k} ×${n(v)}`)
    .join(', ');
  return e.length > most ? `${shown}, and ${e.length - most} more kinds (see --json)` : shown;
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
  row(
    'clients',
    `${n(r.clients.connected)} connected, ${n(r.clients.neverConnected)} never connected, ${n(r.clients.reconnects)} reconnects (${n(r.clients.forcedDrops)} forced drops, ${n(r.clients.pauses)} pauses)`,
  );
  row('connect latency', pct(r.connectLatencyMs, ['p50', 'p95', 'p99']));
  row('publish→deliver', pct(r.deliveryLatencyMs, ['p50', 'p90', 'p99', 'p99.9', 'max']));
  row('publish ack', pct(r.publishLatencyMs, ['p50', 'p99', 'max']));
  row(
    'publishes',
    `${n(r.publishes.ok)} ok, ${n(r.publishes.failed)} failed${r.publishes.behindRate ? ' (publisher fell behind the rate)' : ''}`,
  );
  row(
    'deliveries',
    `${n(r.deliveries.handled)} handled, ${n(r.deliveries.perSecond)}/s, ` +
      (r.deliveries.expected === 0
        ? 'nothing was expected (no subscriber, or nothing published)'
        : `delivered ÷ expected ${(r.deliveries.ratio * 100).toFixed(2)} % (${n(r.deliveries.delivered)} / ${n(r.deliveries.expected)})`),
  );
  L.push('');
  const head = ['QoS', 'expected', 'delivered', 'lost silent', 'lost signalled', 'duplicated', 'out of order'];
  L.push(head.map((h, i) => pad(h, i ? 15 : 5)).join(''));
  for (const q of ['0', '1'] as const) {
    const k = r.qos[q];
    if (k.expected === 0 && k.delivered === 0 && k.duplicated === 0) continue;
    L.push(
      [q, k.expected, k.delivered, k.lostSilent, k.lostSignalled, k.duplicated, k.outOfOrder]
        .map((v, i) => pad(typeof v === 'number' ? n(v) : v, i ? 15 : 5))
        .join(''),
    );
  }
  L.push('');
  row('recoveries', `${n(r.recoveries.succeeded)} succeeded, ${n(r.recoveries.failed)} failed`);
  row('discontinuities', record(r.discontinuities));
  row('dropped by server', n(r.droppedByServer));
  row('closes by code', record(r.closes));
  row('errors', record(r.errors));
  if (r.publishes.failed) row('publish errors', record(r.publishes.errors));
  const waited =
    r.durationMs.waitingForAudience >= 50
      ? ` + ${(r.durationMs.waitingForAudience / 1000).toFixed(1)} waiting for subscriptions`
      : '';
  row(
    'time',
    `${(r.durationMs.total / 1000).toFixed(1)} s (ramp-up ${(r.durationMs.rampUp / 1000).toFixed(1)}${waited}, publishing ${(r.durationMs.publishing / 1000).toFixed(1)}, drain ${(r.durationMs.draining / 1000).toFixed(1)})`,
  );
  L.push('');
  if (r.passed) L.push('PASS: nothing lost, duplicated or reordered');
  else {
    for (const x of r.failures) L.push(`FAIL: ${x}`);
    for (const x of r.explanations) L.push(`WHY:  ${x}`);
  }
  return L.join('\n');
}

/** Live numbers for the progress line. */
export interface Progress {
  phase: 'ramp-up' | 'publishing' | 'draining';
  elapsed: number;
  clients: number;
  connected: number;
  subscribed: number;
  handled: number;
  reconnects: number;
  published: number;
  publishErrors: number;
}

/** The one-line live progress display. */
export function formatProgress(p: Progress, rate: number): string {
  return `[${(p.elapsed / 1000).toFixed(0).padStart(4)} s] ${p.phase.padEnd(10)} clients ${n(p.subscribed)}/${n(p.clients)}  reconnects ${n(p.reconnects)}  published ${n(p.published)}${p.publishErrors ? ` (${n(p.publishErrors)} failed)` : ''}  delivered ${n(p.handled)} (${n(Math.round(rate))}/s)`;
}
