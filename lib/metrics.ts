/**
 * Hub metrics as a plain snapshot, and its Prometheus text exposition. No metrics library is
 * needed: expose `prometheusText(hub.metrics())` on any route your scraper reads.
 * @module
 */

/** Counters a hub keeps from its start. All only grow. */
export interface HubCounters {
  /** Messages stored and broadcast by this node (retries de-duplicated by idempotency key excluded). */
  published: number;
  /** QoS 0 messages dropped for congested connections. */
  dropped: number;
  /** Connections closed with 4002 SLOW_CONSUMER. */
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
}

/** A point-in-time view of a hub. */
export interface HubMetrics extends HubCounters {
  /** Open connections. */
  connections: number;
  /** Subscriptions held by open connections. */
  subscriptions: number;
  /** Exact channels with at least one local subscriber. */
  channels: number;
  /** Connections whose send queue is above `limits.queueHighWaterBytes` right now. */
  congestedConnections: number;
}

/** A fresh, zeroed counter set. */
export function newCounters(): HubCounters {
  return { published: 0, dropped: 0, slowConsumerCloses: 0, badFrames: 0, connectionsAccepted: 0, authFailures: {}, closes: {}, catchUps: 0, gaps: 0 };
}

/** Adds one to a labelled counter. */
export function countBy(map: Record<string, number>, label: string | number): void {
  map[label] = (map[label] ?? 0) + 1;
}

const SERIES: Array<[keyof HubMetrics, 'gauge' | 'counter', string, string?]> = [
  ['connections', 'gauge', 'Open connections.'],
  ['subscriptions', 'gauge', 'Subscriptions held by open connections.'],
  ['channels', 'gauge', 'Exact channels with local subscribers.'],
  ['congestedConnections', 'gauge', 'Connections above the queue high-water mark.'],
  ['published', 'counter', 'Messages stored and broadcast.'],
  ['dropped', 'counter', 'QoS 0 messages dropped for congested connections.'],
  ['slowConsumerCloses', 'counter', 'Connections closed as slow consumers (4002).'],
  ['badFrames', 'counter', 'Invalid frames received.'],
  ['connectionsAccepted', 'counter', 'Connections accepted after authentication.'],
  ['authFailures', 'counter', 'Upgrades refused by authentication, by HTTP status.', 'status'],
  ['closes', 'counter', 'Connections ended, by close code.', 'code'],
  ['catchUps', 'counter', 'Catch-ups from history started.'],
  ['gaps', 'counter', 'Gap notices sent (history no longer covered a subscriber).'],
];

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

/**
 * Formats a snapshot in the Prometheus text exposition format (version 0.0.4), metric names
 * prefixed with `prefix` (default `switchyard_`); counters end in `_total`.
 */
export function prometheusText(m: HubMetrics, prefix = 'switchyard_'): string {
  let out = '';
  for (const [key, type, help, label] of SERIES) {
    const name = prefix + snake(key) + (type === 'counter' ? '_total' : '');
    out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
    const v = m[key];
    if (label && typeof v === 'object') for (const [l, n] of Object.entries(v)) out += `${name}{${label}="${l}"} ${n}\n`;
    else out += `${name} ${v as number}\n`;
  }
  return out;
}
