/**
 * Hub metrics as a plain snapshot, the metric families derived from it (names, help, types,
 * labels: one list that both the Prometheus text below and `switchyardjs/prometheus` use), and
 * the Prometheus text exposition. No metrics library is needed: expose
 * `prometheusText(hub.metrics())` on any route your scraper reads.
 * @module
 */
import type { HistogramSnapshot } from './histogram.js';
import type { LatencyMetrics } from './instruments.js';

/** Counters a hub keeps from its start. All only grow. */
export interface HubCounters {
  /** Messages stored and broadcast by this node (retries de-duplicated by idempotency key excluded). */
  published: number;
  /** QoS 0 messages dropped for congested connections. */
  dropped: number;
  /** Connections closed with 3002 SLOW_CONSUMER. */
  slowConsumerCloses: number;
  /** Invalid frames received (errors 100–104 and 111). */
  badFrames: number;
  /** Connections accepted after authentication. */
  connectionsAccepted: number;
  /** Upgrades refused by `authenticate`, by HTTP status. */
  authFailures: Record<string, number>;
  /** Connections ended, by close code. */
  closes: Record<string, number>;
  /** Catch-ups from history started (recovery, flow-control resumes, gap fills). */
  catchUps: number;
  /** `gap` notices sent: history no longer covered what a subscription missed. */
  gaps: number;
  /** Publishes that failed because the engine did not store them (error 201). */
  publishFailures: number;
}

/** A point-in-time view of a hub. */
export interface HubMetrics extends HubCounters, LatencyMetrics {
  /** Open connections. */
  connections: number;
  /** Subscriptions held by open connections. */
  subscriptions: number;
  /** Exact channels with at least one local subscriber. */
  channels: number;
  /** Connections whose send queue is above `limits.queueHighWaterBytes` right now. */
  congestedConnections: number;
  /** Nodes this node heard from in the last 15 s, itself included (1 with the in-memory engine). */
  clusterNodes: number;
}

/** A fresh, zeroed counter set. */
export function newCounters(): HubCounters {
  return {
    published: 0,
    dropped: 0,
    slowConsumerCloses: 0,
    badFrames: 0,
    connectionsAccepted: 0,
    authFailures: {},
    closes: {},
    catchUps: 0,
    gaps: 0,
    publishFailures: 0,
  };
}

/** Adds one to a labelled counter. */
export function countBy(map: Record<string, number>, label: string | number): void {
  map[label] = (map[label] ?? 0) + 1;
}

/** One sample of a metric family: `suffix` is appended to the family name (`_bucket`, `_sum`, `_count`). */
export interface MetricSample {
  suffix?: string;
  labels: Record<string, string>;
  value: number;
}

/** A metric family as a scraper sees it; `name` includes the prefix and, for counters, `_total`. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter' | 'histogram';
  samples: MetricSample[];
}

type Scalar =
  | 'connections'
  | 'subscriptions'
  | 'channels'
  | 'congestedConnections'
  | 'clusterNodes'
  | 'published'
  | 'dropped'
  | 'slowConsumerCloses'
  | 'badFrames'
  | 'connectionsAccepted'
  | 'catchUps'
  | 'gaps'
  | 'publishFailures';
const SCALARS: Array<[Scalar, 'gauge' | 'counter', string]> = [
  ['connections', 'gauge', 'Open connections.'],
  ['subscriptions', 'gauge', 'Subscriptions held by open connections.'],
  ['channels', 'gauge', 'Exact channels with local subscribers.'],
  ['congestedConnections', 'gauge', 'Connections above the queue high-water mark.'],
  ['clusterNodes', 'gauge', 'Nodes this node heard from in the last 15 s, itself included.'],
  ['published', 'counter', 'Messages stored and broadcast.'],
  ['dropped', 'counter', 'QoS 0 messages dropped for congested connections.'],
  ['slowConsumerCloses', 'counter', 'Connections closed as slow consumers (3002).'],
  ['badFrames', 'counter', 'Invalid frames received.'],
  ['connectionsAccepted', 'counter', 'Connections accepted after authentication.'],
  ['catchUps', 'counter', 'Catch-ups from history started.'],
  ['gaps', 'counter', 'Gap notices sent (history no longer covered a subscriber).'],
  ['publishFailures', 'counter', 'Publishes the engine did not store (error 201).'],
];
const LABELLED: Array<['authFailures' | 'closes', string, string]> = [
  ['authFailures', 'Upgrades refused by authentication, by HTTP status.', 'status'],
  ['closes', 'Connections ended, by close code.', 'code'],
];
type Histo =
  | 'publishStoredSeconds'
  | 'deliverySeconds'
  | 'catchUpSeconds'
  | 'catchUpMessages'
  | 'ackRoundTripSeconds'
  | 'sendQueueBytes';
const HISTOGRAMS: Array<[Histo, string, string]> = [
  ['publishStoredSeconds', 'publish_stored_seconds', 'Seconds from publish to the store confirming it.'],
  [
    'deliverySeconds',
    'delivery_seconds',
    'Seconds from stored to written to a local subscriber socket (sampled messages this node published).',
  ],
  ['catchUpSeconds', 'catch_up_seconds', 'Seconds one catch-up from history took.'],
  ['catchUpMessages', 'catch_up_messages', 'Messages one catch-up from history sent.'],
  ['ackRoundTripSeconds', 'ack_round_trip_seconds', 'Seconds from a QoS 1 delivery to the ack covering it (sampled).'],
  ['sendQueueBytes', 'send_queue_bytes', 'Bytes queued per connection, observed at each heartbeat round.'],
];

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

function histogramSamples(h: HistogramSnapshot, labels: Record<string, string>): MetricSample[] {
  const out: MetricSample[] = h.buckets.map((le, i) => ({
    suffix: '_bucket',
    labels: { ...labels, le: String(le) },
    value: h.counts[i]!,
  }));
  out.push(
    { suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: h.count },
    { suffix: '_sum', labels, value: h.sum },
    { suffix: '_count', labels, value: h.count },
  );
  return out;
}

/** Every metric family of a snapshot, names prefixed with `prefix` (default `switchyard_`). */
export function metricFamilies(m: HubMetrics, prefix = 'switchyard_'): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const [key, type, help] of SCALARS) {
    out.push({
      name: prefix + snake(key) + (type === 'counter' ? '_total' : ''),
      help,
      type,
      samples: [{ labels: {}, value: m[key] }],
    });
  }
  for (const [key, help, label] of LABELLED) {
    out.push({
      name: prefix + snake(key) + '_total',
      help,
      type: 'counter',
      samples: Object.entries(m[key]).map(([l, value]) => ({ labels: { [label]: l }, value })),
    });
  }
  const families = Object.entries(m.families);
  out.push(
    {
      name: prefix + 'family_published_total',
      help: 'Messages stored and broadcast, by channel rule (match), or (default).',
      type: 'counter',
      samples: families.map(([family, f]) => ({ labels: { family }, value: f.published })),
    },
    {
      name: prefix + 'family_deliveries_total',
      help: 'Deliveries routed to local subscribers, by channel rule (match), or (default).',
      type: 'counter',
      samples: families.map(([family, f]) => ({ labels: { family }, value: f.delivered })),
    },
  );
  for (const [key, name, help] of HISTOGRAMS)
    out.push({ name: prefix + name, help, type: 'histogram', samples: histogramSamples(m[key], {}) });
  out.push({
    name: prefix + 'engine_seconds',
    help: 'Seconds per storage operation (Redis engine: one command round trip each), by op.',
    type: 'histogram',
    samples: Object.entries(m.engineSeconds).flatMap(([op, h]) => histogramSamples(h, { op })),
  });
  out.push({
    name: prefix + 'engine_errors_total',
    help: 'Storage operations that failed (Redis engine: unreachable, timed out), by op.',
    type: 'counter',
    samples: Object.entries(m.engineErrors).map(([op, value]) => ({ labels: { op }, value })),
  });
  const el = m.eventLoopDelay;
  out.push({
    name: prefix + 'event_loop_delay_seconds',
    help: 'Event-loop delay over the last 10 s window, by percentile (100 = max).',
    type: 'gauge',
    samples: (
      [
        ['50', el.p50],
        ['90', el.p90],
        ['99', el.p99],
        ['100', el.max],
      ] as const
    ).map(([percentile, value]) => ({ labels: { percentile }, value })),
  });
  return out;
}

/** Escapes a label value for the text exposition format: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const formatValue = (v: number): string =>
  Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);

/**
 * Formats a snapshot in the Prometheus text exposition format (version 0.0.4), metric names
 * prefixed with `prefix` (default `switchyard_`); counters end in `_total`; label values are escaped.
 */
export function prometheusText(m: HubMetrics, prefix = 'switchyard_'): string {
  let out = '';
  for (const f of metricFamilies(m, prefix)) {
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels);
      const l = labels.length ? '{' + labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',') + '}' : '';
      out += `${f.name}${s.suffix ?? ''}${l} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}
