/**
 * Wires the hub's parts into the {@link ConnectionHost} each connection is given: the one place
 * that decides which part serves which need of a connection.
 * @module
 */
import { authorizedFor } from './authorization.js';
import type { CatchUps } from './catch-up.js';
import type { Connection } from './connection.js';
import type { ConnectionHost } from './connection-host.js';
import type { FanOut } from './fanout.js';
import type { FlowMonitor } from './flow-monitor.js';
import { historyText } from './history-read.js';
import type { HubContext } from './hub-context.js';
import { publishPayload } from './publisher.js';
import type { UserControl } from './user-control.js';

/** The hub's services as a connection sees them. @internal */
export function connectionHost(ctx: HubContext, fanOut: FanOut, catchUps: CatchUps, flow: FlowMonitor, control: UserControl, closed: (conn: Connection, code: number) => void): ConnectionHost<Connection> {
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
      if ((n & (n - 1)) === 0) ctx.log('info', { connectionId: conn.id, userId: conn.userKey, remoteAddress: conn.remoteAddress, reason: 'rate limited', refusals: n }, 'publish refused');
    },
    markCongested: (conn) => flow.markCongested(conn),
    connectionClosed: closed,
    refreshConnection: (conn, f) => control.refreshConnection(conn, f),
  };
}
