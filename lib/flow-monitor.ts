/**
 * The hub's one timer: a short tick that watches congested connections (resume when drained,
 * close with 3002 SLOW_CONSUMER when they stay above the high-water mark too long) and, every
 * heartbeat interval, pings every connection and terminates those that did not answer the last
 * round. Nothing is scheduled per connection or per message; other periodic work (expiries,
 * instruments, the node list) rides on the same tick through `onTick`.
 * @module
 */
import { CLOSE } from './close-codes.js';
import type { Connection } from './connection.js';
import { PING_FRAME } from './frames.js';
import type { HubContext } from './hub-context.js';

/** Heartbeats and slow-consumer checks of one hub. @internal */
export class FlowMonitor {
  private readonly congested = new Set<Connection>();
  private readonly timer: ReturnType<typeof setInterval>;
  private heartbeatDue: number;

  constructor(
    private readonly ctx: HubContext,
    private readonly conns: ReadonlyMap<string, Connection>,
    /** Other periodic work, run first on every tick with `performance.now()`. */
    private readonly onTick: (now: number) => void,
  ) {
    this.heartbeatDue = performance.now() + ctx.options.heartbeatInterval;
    this.timer = setInterval(() => this.tick(), Math.min(100, ctx.options.heartbeatInterval));
    this.timer.unref();
  }

  /** Connections currently above the high-water mark. */
  get congestedCount(): number {
    return this.congested.size;
  }

  /** Watches `conn` until its queue drains (or it is closed as a slow consumer). */
  markCongested(conn: Connection): void {
    this.congested.add(conn);
  }

  forget(conn: Connection): void {
    this.congested.delete(conn);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    this.onTick(now);
    const { queueHighWaterBytes, slowConsumerTimeout } = this.ctx.options.limits;
    for (const conn of this.congested) {
      if (!conn.open) {
        this.congested.delete(conn);
      } else if (conn.transport.bufferedAmount <= queueHighWaterBytes / 2) {
        this.congested.delete(conn);
        conn.drained();
      } else if (now - conn.congestedSince > slowConsumerTimeout) {
        this.congested.delete(conn);
        conn.close(CLOSE.SLOW_CONSUMER, `send queue above limits.queueHighWaterBytes for ${slowConsumerTimeout} ms`);
      }
    }
    if (now < this.heartbeatDue) return;
    this.heartbeatDue = now + this.ctx.options.heartbeatInterval;
    for (const conn of this.conns.values()) {
      if (!conn.alive) {
        conn.transport.terminate();
        conn.closed(CLOSE.HEARTBEAT_TIMEOUT);
        continue;
      }
      conn.alive = false;
      this.ctx.instruments.queued(conn.transport.bufferedAmount);
      conn.send(PING_FRAME);
    }
  }
}
