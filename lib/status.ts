/**
 * The hub's status as JSON, for the HTTP API's `/status` and the admin page: the busiest
 * connections, the channels with the most subscribers and their history sizes, recent errors,
 * closes by code, and the cluster's nodes. Bounded: at most `top` connections and channels.
 * @module
 */
import type { Connection } from './connection.js';
import type { Subscription } from './delivery.js';
import type { ResolvedRule } from './channel-rules.js';
import type { Storage } from './engine.js';
import type { EventLoopDelay, Instruments, RecentError } from './instruments.js';
import type { HubMetrics } from './metrics.js';
import type { NodeDirectory, NodeInfo } from './nodes.js';
import type { Router } from './router.js';

/** One connection as the status lists it. */
export interface ConnectionStatus {
  id: string;
  /** From the user `authenticate` returned: a string/number user, or its `id`/`userId`/`sub`. */
  userId?: string;
  remoteAddress?: string;
  /** `Date.now()` when it connected. */
  openedAt: number;
  subscriptions: number;
  /** Frames it sent (publishes, subscribes, acks, …). */
  framesIn: number;
  /** Bytes queued for it right now. */
  queuedBytes: number;
  /** QoS 0 messages dropped for it. */
  dropped: number;
}

/** One channel as the status lists it. */
export interface ChannelStatus {
  channel: string;
  /** Local subscribers. */
  subscribers: number;
  /** The channel rule (`match`) that applies, or `(default)`. */
  family: string;
  /** Current offset: messages ever published to the stream; the admin page derives the rate from it. */
  offset: number;
  /** Messages history holds now. */
  historySize: number;
}

/** What `hub.status()` returns. */
export interface HubStatus {
  /** `Date.now()` when the status was taken. */
  time: number;
  /** This node's id in {@link nodes}. */
  node: string;
  closing: boolean;
  /** The snapshot `hub.metrics()` returns, without histograms (use `/metrics` for them). */
  counters: Omit<
    HubMetrics,
    | 'publishStoredSeconds'
    | 'deliverySeconds'
    | 'catchUpSeconds'
    | 'catchUpMessages'
    | 'ackRoundTripSeconds'
    | 'sendQueueBytes'
    | 'engineSeconds'
    | 'eventLoopDelay'
  >;
  eventLoopDelay: EventLoopDelay;
  /** Connections with the most frames sent first. */
  topConnections: ConnectionStatus[];
  /** Channels with the most subscribers first. */
  channels: ChannelStatus[];
  /** Channels with local subscribers beyond the ones listed. */
  channelsNotListed: number;
  /** The last warnings and errors the hub logged, newest last. */
  recentErrors: RecentError[];
  nodes: NodeInfo[];
}

/** What the status reads from the hub (declared here so this module does not import the hub). @internal */
export interface StatusSource {
  metrics(): HubMetrics;
  rule(channel: string): ResolvedRule;
  readonly storage: Storage;
  readonly nodes: NodeDirectory;
  readonly isClosing: boolean;
  readonly instruments: Instruments;
}

/** Builds the status; internal state is passed in by the hub. @internal */
export async function hubStatus(
  hub: StatusSource,
  conns: Connection[],
  router: Router<Subscription>,
  top: number,
): Promise<HubStatus> {
  const m = hub.metrics();
  const {
    publishStoredSeconds,
    deliverySeconds,
    catchUpSeconds,
    catchUpMessages,
    ackRoundTripSeconds,
    sendQueueBytes,
    engineSeconds,
    eventLoopDelay,
    ...counters
  } = m;
  const topConnections = conns
    .sort((a, b) => b.framesIn - a.framesIn)
    .slice(0, top)
    .map((c) => ({
      id: c.id,
      userId: c.userKey,
      remoteAddress: c.remoteAddress,
      openedAt: c.openedAt,
      subscriptions: c.subs.size,
      framesIn: c.framesIn,
      queuedBytes: c.transport.bufferedAmount,
      dropped: c.dropped,
    }));
  const all: Array<{ channel: string; subscribers: number }> = [];
  for (const ch of router.channels()) all.push({ channel: ch, subscribers: router.exactSubscribers(ch)?.size ?? 0 });
  all.sort((a, b) => b.subscribers - a.subscribers);
  const listed = all.slice(0, top);
  const channels = await Promise.all(
    listed.map(async ({ channel, subscribers }) => {
      const rule = hub.rule(channel);
      // A store that cannot answer leaves the numbers at zero rather than failing the page.
      const s = rule.history === false ? undefined : await hub.storage.state(channel).catch(() => undefined);
      return {
        channel,
        subscribers,
        family: rule.family,
        offset: s?.offset ?? 0,
        historySize: s ? Math.max(0, s.offset - s.earliest + 1) : 0,
      };
    }),
  );
  return {
    time: Date.now(),
    node: hub.nodes.id,
    closing: hub.isClosing,
    counters,
    eventLoopDelay,
    topConnections,
    channels,
    channelsNotListed: all.length - listed.length,
    recentErrors: [...hub.instruments.recentErrors],
    nodes: hub.nodes.list(),
  };
}
