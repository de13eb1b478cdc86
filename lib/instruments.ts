/**
 * What a hub measures beyond its counters: latency and size histograms, per-channel-family
 * counters, event-loop delay, recent errors for the admin page, and the `diagnostics_channel`
 * events tracing tools subscribe to. The hub calls into it with one line at each point; every
 * call returns at once when metrics are off, and the per-delivery ones only do work for one
 * message in `sampleEvery`, so the fan-out path pays a counter and a comparison.
 * @module
 */
import { channel } from 'node:diagnostics_channel';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Storage } from './engine.js';
import { BYTE_BUCKETS, COUNT_BUCKETS, Histogram, LATENCY_BUCKETS, type HistogramSnapshot } from './histogram.js';

/**
 * The `node:diagnostics_channel` channels a hub publishes on (documented in docs/operations.md).
 * Messages are built only while a channel has subscribers.
 */
export const DIAGNOSTICS = Object.freeze({
  /** `{ event: 'open', id, userId, remoteAddress }` and `{ event: 'close', id, userId, code }`. */
  connection: channel('switchyard:connection'),
  /** `{ status, reason, remoteAddress, userId? }`: an upgrade refused (401/403/origin/…) or a connection closed for misbehaving. */
  refusal: channel('switchyard:refusal'),
  /** `{ channel, offset, epoch, bytes, seconds }` after a message was stored. */
  publish: channel('switchyard:publish'),
  /** `{ channel, offset, subscribers }` when a message is handed to this node's subscribers. */
  deliver: channel('switchyard:deliver'),
  /** `{ channel, connectionId, messages, seconds }` when a catch-up from history ended. */
  catchUp: channel('switchyard:catch-up'),
  /** `{ level, msg, err? }` for every warn/error the hub logs. */
  error: channel('switchyard:error'),
});

/** Options of hub metrics (`metrics` option of {@link SwitchyardOptions}). */
export interface MetricsOptions {
  /**
   * One message in this many that this node publishes is timed from "stored" to "written to each
   * local subscriber's socket" (and, for QoS 1, to the subscriber's ack). Default 64.
   */
  sampleEvery?: number;
  /** Whether to run `perf_hooks.monitorEventLoopDelay` (20 ms resolution). Default true. */
  eventLoop?: boolean;
}

/** Event-loop delay over the last complete 10 s window (the first 10 s: the time so far), in seconds. */
export interface EventLoopDelay {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Counters of one channel family: the channel rule (`match`) that applies, or `(default)`. */
export interface FamilyCounters {
  /** Messages stored and broadcast by this node. */
  published: number;
  /** Deliveries routed to this node's subscribers (one per subscription a message went to). */
  delivered: number;
}

/** A warning or error the hub logged, kept for the admin page. */
export interface RecentError {
  /** `Date.now()` when it was logged. */
  time: number;
  level: 'warn' | 'error';
  msg: string;
  /** The error's message, when the log entry carried one. */
  err?: string;
}

/** Histograms and families as {@link Switchyard.metrics} reports them. */
export interface LatencyMetrics {
  /** Seconds from publish to the store's confirmation (every publish). */
  publishStoredSeconds: HistogramSnapshot;
  /** Seconds from the store's confirmation to the frame being written to a local subscriber's socket (sampled). */
  deliverySeconds: HistogramSnapshot;
  /** Seconds one catch-up from history took. */
  catchUpSeconds: HistogramSnapshot;
  /** Messages one catch-up sent. */
  catchUpMessages: HistogramSnapshot;
  /** Seconds from a QoS 1 delivery to the client's ack covering it (sampled). */
  ackRoundTripSeconds: HistogramSnapshot;
  /** Bytes queued per connection, observed at each heartbeat round. */
  sendQueueBytes: HistogramSnapshot;
  /** Seconds per storage operation (for the Redis engine, one command round trip each). */
  engineSeconds: { append: HistogramSnapshot; read: HistogramSnapshot; state: HistogramSnapshot };
  /** Storage operations that failed, by operation. */
  engineErrors: { append: number; read: number; state: number };
  /** Event-loop delay (zeros when `metrics.eventLoop` is false). */
  eventLoopDelay: EventLoopDelay;
  /** Counters per channel family. */
  families: Record<string, FamilyCounters>;
}

const EVENT_LOOP_WINDOW_MS = 10_000;
const RECENT_ERRORS = 50;
const now = (): number => performance.now();

/** The hub's measurements. @internal */
export class Instruments {
  readonly enabled: boolean;
  private readonly sampleEvery: number;
  private publishes = 0;
  readonly publishStored = new Histogram(LATENCY_BUCKETS);
  readonly delivery = new Histogram(LATENCY_BUCKETS);
  readonly catchUpSeconds = new Histogram(LATENCY_BUCKETS);
  readonly catchUpMessages = new Histogram(COUNT_BUCKETS);
  readonly ackRoundTrip = new Histogram(LATENCY_BUCKETS);
  readonly sendQueue = new Histogram(BYTE_BUCKETS);
  readonly engine = {
    append: new Histogram(LATENCY_BUCKETS),
    read: new Histogram(LATENCY_BUCKETS),
    state: new Histogram(LATENCY_BUCKETS),
  };
  private readonly engineErrors = { append: 0, read: 0, state: 0 };
  private readonly families = new Map<string, FamilyCounters>();
  // One sampled message at a time: its channel, offset and when the store confirmed it.
  private probeChannel = '';
  private probeOffset = -1;
  private probeAt = 0;
  private readonly ackProbes = new WeakMap<object, { offset: number; at: number }>();
  private readonly loop: IntervalHistogram | undefined;
  private loopDue = 0;
  private loopDelay: EventLoopDelay = { p50: 0, p90: 0, p99: 0, max: 0 };
  private loopRolled = false;
  readonly recentErrors: RecentError[] = [];

  constructor(options: boolean | MetricsOptions) {
    this.enabled = options !== false;
    const o = typeof options === 'object' ? options : {};
    this.sampleEvery = o.sampleEvery ?? 64;
    if (this.enabled && o.eventLoop !== false) {
      this.loop = monitorEventLoopDelay({ resolution: 20 });
      this.loop.enable();
      this.loopDue = now() + EVENT_LOOP_WINDOW_MS;
    }
  }

  /** A message was stored at `offset` after a publish that started at `startedAt` (`performance.now()`). */
  published(channel: string, offset: number, epoch: string, bytes: number, family: string, startedAt: number): void {
    if (!this.enabled) return;
    const t = now();
    this.publishStored.observe((t - startedAt) / 1000);
    this.family(family).published++;
    if (++this.publishes % this.sampleEvery === 0) {
      this.probeChannel = channel;
      this.probeOffset = offset;
      this.probeAt = t;
    }
    if (DIAGNOSTICS.publish.hasSubscribers)
      DIAGNOSTICS.publish.publish({ channel, offset, epoch, bytes, seconds: (t - startedAt) / 1000 });
  }

  /** When `offset` of `channel` is the sampled message, when it was stored (and the sample is used up); else 0. */
  sampled(channel: string, offset: number): number {
    if (offset !== this.probeOffset || channel !== this.probeChannel) return 0;
    this.probeOffset = -1;
    return this.probeAt;
  }

  /** The sampled message stored at `storedAt` was handed to one subscription; a QoS 1 one starts an ack probe. */
  delivered(sub: { qos: number; lastSent: number }, offset: number, storedAt: number): void {
    const t = now();
    this.delivery.observe((t - storedAt) / 1000);
    if (sub.qos === 1 && sub.lastSent === offset && !this.ackProbes.has(sub))
      this.ackProbes.set(sub, { offset, at: t });
  }

  /** A message of `family` went to `subscribers` local subscriptions. */
  fannedOut(channel: string, offset: number, family: string, subscribers: number): void {
    this.family(family).delivered += subscribers;
    if (DIAGNOSTICS.deliver.hasSubscribers) DIAGNOSTICS.deliver.publish({ channel, offset, subscribers });
  }

  /** A QoS 1 subscription acknowledged up to `offset`. */
  acked(sub: object, offset: number): void {
    const p = this.ackProbes.get(sub);
    if (p === undefined || offset < p.offset) return;
    this.ackProbes.delete(sub);
    this.ackRoundTrip.observe((now() - p.at) / 1000);
  }

  /** A catch-up that started at `startedAt` ended after sending `messages`. */
  caughtUp(channel: string, connectionId: string, startedAt: number, messages: number): void {
    if (!this.enabled) return;
    const seconds = (now() - startedAt) / 1000;
    this.catchUpSeconds.observe(seconds);
    this.catchUpMessages.observe(messages);
    if (DIAGNOSTICS.catchUp.hasSubscribers) DIAGNOSTICS.catchUp.publish({ channel, connectionId, messages, seconds });
  }

  /** One connection's send queue, observed at a heartbeat round. */
  queued(bytes: number): void {
    if (this.enabled) this.sendQueue.observe(bytes);
  }

  /** Keeps a warning or error for the admin page and publishes it on `switchyard:error`. */
  logged(level: string, obj: object, msg: string): void {
    if (level !== 'warn' && level !== 'error') return;
    const e = (obj as { err?: unknown }).err;
    const entry: RecentError = {
      time: Date.now(),
      level,
      msg,
      ...(e !== undefined && { err: e instanceof Error ? e.message : String(e) }),
    };
    if (this.recentErrors.push(entry) > RECENT_ERRORS) this.recentErrors.shift();
    if (DIAGNOSTICS.error.hasSubscribers) DIAGNOSTICS.error.publish({ level, msg, err: e });
  }

  /** Rolls the event-loop window when it is due (called from the hub's timer). */
  tick(t: number): void {
    if (this.loop === undefined || t < this.loopDue) return;
    this.loopDue = t + EVENT_LOOP_WINDOW_MS;
    this.loopDelay = this.readLoop();
    this.loopRolled = true;
    this.loop.reset();
  }

  private readLoop(): EventLoopDelay {
    const h = this.loop;
    // The monitor reports nanoseconds; an empty window (no samples) reports 0 everywhere.
    const s = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    return h && h.count > 0
      ? { p50: s(h.percentile(50)), p90: s(h.percentile(90)), p99: s(h.percentile(99)), max: s(h.max) }
      : { p50: 0, p90: 0, p99: 0, max: 0 };
  }

  /** Times every storage operation into {@link engine} (the wrapper keeps the storage's own prototype). */
  timeStorage(storage: Storage): Storage {
    if (!this.enabled) return storage;
    const errors = this.engineErrors;
    const timed = <T>(op: 'append' | 'read' | 'state', run: () => Promise<T>): Promise<T> => {
      const t0 = now();
      const h = this.engine[op];
      return run().then(
        (v) => (h.observe((now() - t0) / 1000), v),
        (err: unknown) => (h.observe((now() - t0) / 1000), errors[op]++, Promise.reject(err)),
      );
    };
    return Object.create(storage, {
      append: {
        value: (c: string, p: string, o: Parameters<Storage['append']>[2]) =>
          timed('append', () => storage.append(c, p, o)),
      },
      read: { value: (c: string, after: number, limit: number) => timed('read', () => storage.read(c, after, limit)) },
      state: {
        value: (c: string, since?: Parameters<Storage['state']>[1]) => timed('state', () => storage.state(c, since)),
      },
    }) as Storage;
  }

  snapshot(): LatencyMetrics {
    return {
      publishStoredSeconds: this.publishStored.snapshot(),
      deliverySeconds: this.delivery.snapshot(),
      catchUpSeconds: this.catchUpSeconds.snapshot(),
      catchUpMessages: this.catchUpMessages.snapshot(),
      ackRoundTripSeconds: this.ackRoundTrip.snapshot(),
      sendQueueBytes: this.sendQueue.snapshot(),
      engineSeconds: {
        append: this.engine.append.snapshot(),
        read: this.engine.read.snapshot(),
        state: this.engine.state.snapshot(),
      },
      engineErrors: { ...this.engineErrors },
      // Until the first window completes, the window so far.
      eventLoopDelay: this.loopRolled ? { ...this.loopDelay } : this.readLoop(),
      families: Object.fromEntries([...this.families].map(([k, v]) => [k, { ...v }])),
    };
  }

  close(): void {
    this.loop?.disable();
  }

  private family(name: string): FamilyCounters {
    let f = this.families.get(name);
    if (f === undefined) this.families.set(name, (f = { published: 0, delivered: 0 }));
    return f;
  }
}
