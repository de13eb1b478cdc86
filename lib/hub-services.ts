/**
 * Assembles a hub's parts: builds each one with the shared {@link HubContext}, routes the
 * broker's messages to the part that owns them, and wires the {@link ConnectionHost} each
 * connection is given. The one place that decides which part serves which need.
 * @module
 */
import { hostname } from 'node:os';
import { authorizedFor } from './authorization.js';
import { CatchUps } from './catch-up.js';
import { ChannelRules } from './channel-rules.js';
import type { Connection } from './connection.js';
import type { ConnectionHost } from './connection-host.js';
import { ConnectionRegistry, type ConnectionEvents } from './connections.js';
import type { Engine } from './engine.js';
import { LocalBroker } from './broker-local.js';
import { memoryEngine } from './engine-memory.js';
import { MemoryStorage } from './history-memory.js';
import { FanOut } from './fanout.js';
import { FlowMonitor } from './flow-monitor.js';
import { historyText } from './history-read.js';
import type { HubContext } from './hub-context.js';
import type { Instruments } from './instruments.js';
import type { HubCounters, HubMetrics } from './metrics.js';
import { NODES_CHANNEL, NodeDirectory } from './nodes.js';
import type { ResolvedOptions, SwitchyardOptions } from './options.js';
import { PresenceTracker } from './presence.js';
import { MemoryPresence } from './presence-memory.js';
import { publishPayload } from './publisher.js';
import { CONTROL_CHANNEL } from './revocation.js';
import { StreamSessions, UPLINK_CHANNEL_PREFIX } from './http-stream-routing.js';
import { UserControl } from './user-control.js';

/** The parts of one hub. @internal */
export interface HubParts {
  ctx: HubContext;
  engine: Engine;
  conns: ReadonlyMap<string, Connection>;
  nodes: NodeDirectory;
  fanOut: FanOut;
  catchUps: CatchUps;
  flow: FlowMonitor;
  control: UserControl;
  registry: ConnectionRegistry;
  host: ConnectionHost<Connection>;
  /** HTTP streams open on this node, and the routing of their POSTs from other nodes ([HS-5]). */
  streams: StreamSessions;
}

/** Builds and wires the parts of a hub and starts its broker. @internal */
export function assembleHub(
  options: SwitchyardOptions,
  resolved: ResolvedOptions,
  counters: HubCounters,
  instruments: Instruments,
  log: HubContext['log'],
  events: ConnectionEvents,
): HubParts {
  const base = options.engine ?? memoryEngine();
  // Storage calls are timed through a wrapper; the engine keeps its own prototype and fields.
  const engine = Object.create(base, { storage: { value: instruments.timeStorage(base.storage) } }) as Engine;
  const presenceTracker = new PresenceTracker(
    engine.presence ?? new MemoryPresence(),
    options.presenceInfo,
    resolved.limits.maxPresenceInfoBytes,
    log,
    resolved.limits.maxPresenceMembers,
  );
  // The parts below exist before the broker delivers anything (its callbacks run asynchronously).
  let parts: HubParts | undefined;
  const ready = engine.broker.start({
    message: (m) => {
      if (m.channel === CONTROL_CHANNEL) parts!.control.receive(m.payload);
      else if (m.channel === NODES_CHANNEL) parts!.nodes.receive(m);
      else if (m.channel.startsWith(UPLINK_CHANNEL_PREFIX)) parts!.streams.receive(m);
      else parts!.fanOut.deliver(m);
    },
    interrupted: () => parts!.catchUps.recheckAll(parts!.fanOut.router),
  });
  ready.catch(() => {});
  const ctx: HubContext = {
    options: resolved,
    userOptions: options,
    counters,
    instruments,
    engine,
    ready,
    appendNow: undefined,
    rules: new ChannelRules(resolved),
    presenceTracker,
    log,
  };
  // Memory store + in-process broker: nothing to wait for once the broker started (publisher.ts).
  if (base.storage instanceof MemoryStorage && base.broker instanceof LocalBroker) {
    const storage = base.storage;
    // A store whose append was replaced (wrapped, instrumented, faulted in a test) goes the asynchronous way.
    const own = MemoryStorage.prototype.append;
    ready.then(
      () =>
        (ctx.appendNow = (channel, payload, o) =>
          storage.append === own ? storage.appendSync(channel, payload, o) : undefined),
      () => {},
    );
  }
  const catchUps = new CatchUps(ctx);
  const fanOut = new FanOut(ctx, (sub) => catchUps.start(sub));
  const conns = new Map<string, Connection>();
  const nodes = new NodeDirectory(engine.broker, `${hostname()}:${process.pid}`, () => conns.size);
  const control = new UserControl(ctx, conns, nodes.id);
  const flow = new FlowMonitor(ctx, conns, (now) => {
    control.expiries.check();
    instruments.tick(now);
    nodes.tick(now);
  });
  const registry = new ConnectionRegistry(ctx, conns, control, {
    opened: events.opened,
    closed: (conn, code) => {
      flow.forget(conn);
      events.closed(conn, code);
    },
  });
  // Revocations from other nodes arrive on the reserved control channel of the same broker.
  ready
    .then(() => engine.broker.subscribe(CONTROL_CHANNEL))
    .catch((err: unknown) =>
      log('warn', { err }, 'control channel subscribe failed; revocations from other nodes will not arrive'),
    );
  ready.then(
    () => nodes.start().catch((err: unknown) => log('warn', { err }, 'could not join the node list')),
    () => {},
  );
  if (options.engine && !options.engine.presence && resolved.channels.some((c) => c.presence)) {
    log('warn', {}, 'presence channels with an engine that has no presence store: each node sees only its own members');
  }
  const host = connectionHost(ctx, fanOut, catchUps, flow, control, (conn, code) => registry.closed(conn, code));
  const streams = new StreamSessions({
    nodeId: nodes.id,
    publish: (m) => engine.broker.publish(m),
    subscribe: (channel) => ready.then(() => engine.broker.subscribe(channel)),
    log,
  });
  parts = { ctx, engine, conns, nodes, fanOut, catchUps, flow, control, registry, host, streams };
  return parts;
}

/** A snapshot of counters, gauges and latency histograms. @internal */
export function metricsSnapshot(parts: HubParts): HubMetrics {
  const { counters: c, instruments } = parts.ctx;
  let subscriptions = 0;
  for (const conn of parts.conns.values()) subscriptions += conn.subs.size;
  return {
    ...c,
    authFailures: { ...c.authFailures },
    closes: { ...c.closes },
    connections: parts.conns.size,
    subscriptions,
    channels: parts.fanOut.router.channelCount,
    congestedConnections: parts.flow.congestedCount,
    clusterNodes: parts.nodes.list().length,
    ...instruments.snapshot(),
  };
}

/**
 * Closes a hub's parts in order: every client (1001, waiting up to `closeTimeout` for the
 * handshakes), the timer and caches, the node list, then the engine. @internal
 */
export async function shutdownParts(parts: HubParts): Promise<void> {
  const { ctx, engine } = parts;
  ctx.presenceTracker.muted = true;
  await parts.registry.closeAll(ctx.options.closeTimeout);
  parts.flow.stop();
  parts.catchUps.clear();
  ctx.instruments.close();
  await parts.nodes.leave();
  await engine.broker.close().catch(() => {});
  await engine.storage.close().catch(() => {});
  await ctx.presenceTracker.store.close().catch(() => {});
}

/** The hub's services as a connection sees them. @internal */
export function connectionHost(
  ctx: HubContext,
  fanOut: FanOut,
  catchUps: CatchUps,
  flow: FlowMonitor,
  control: UserControl,
  closed: (conn: Connection, code: number) => void,
): ConnectionHost<Connection> {
  return {
    options: ctx.options,
    counters: ctx.counters,
    instruments: ctx.instruments,
    presenceTracker: ctx.presenceTracker,
    storage: ctx.engine.storage,
    log: ctx.log,
    rule: (channel) => ctx.rules.for(channel),
    authorized: (action, channel, conn) => authorizedFor(ctx, action, channel, conn.user, conn.id),
    reservePattern: (pattern) => fanOut.reservePattern(pattern),
    releasePattern: (pattern) => fanOut.releasePattern(pattern),
    addSubscription: (sub) => fanOut.add(sub),
    removeSubscription: (sub) => fanOut.remove(sub),
    startCatchUp: (sub) => catchUps.start(sub),
    publishPayload: (channel, payload, key) => publishPayload(ctx, channel, payload, key),
    historyText: (channel, since, limit) => historyText(ctx, channel, since, limit),
    rateLimitedPublish: (conn) => {
      // The 1st, 2nd, 4th, 8th… refusal of a connection is logged at info, so a flood cannot flood the log.
      const n = ++conn.rateLimited;
      if ((n & (n - 1)) === 0)
        ctx.log(
          'info',
          {
            connectionId: conn.id,
            userId: conn.userKey,
            remoteAddress: conn.remoteAddress,
            reason: 'rate limited',
            refusals: n,
          },
          'publish refused',
        );
    },
    markCongested: (conn) => flow.markCongested(conn),
    connectionClosed: closed,
    refreshConnection: (conn, f) => control.refreshConnection(conn, f),
  };
}
