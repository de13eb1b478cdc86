/**
 * The open connections of one hub: admitting an authenticated socket (the `welcome` frame),
 * the bookkeeping when one closes (counters, logs, diagnostics, the `disconnect` event), and
 * closing them all at shutdown.
 * @module
 */
import { CLOSE } from './close-codes.js';
import { Connection } from './connection.js';
import type { ConnectionHost } from './connection-host.js';
import { welcomeFrame } from './frames.js';
import type { Identity } from './grant.js';
import type { HubContext } from './hub-context.js';
import { DIAGNOSTICS } from './instruments.js';
import { countBy } from './metrics.js';
import { PROTOCOL_VERSION, type WelcomeFrame } from './protocol.js';
import { serverChannelsWire } from './refresh.js';
import type { ConnectionInput, Transport } from './transport.js';
import type { UserControl } from './user-control.js';

/** What the registry tells the hub (which emits its events). */
export interface ConnectionEvents {
  opened(id: string, user: unknown): void;
  closed(conn: Connection, code: number): void;
}

/** The open connections of one hub. @internal */
export class ConnectionRegistry {
  private onEmpty: (() => void) | undefined;

  constructor(
    private readonly ctx: HubContext,
    /** The open connections by id; the map is shared with the parts that look connections up. */
    private readonly conns: Map<string, Connection>,
    private readonly control: UserControl,
    private readonly events: ConnectionEvents,
  ) {}

  /** Admits an open, authenticated socket, or closes it when the hub is closing or full. */
  accept(
    host: ConnectionHost<Connection>,
    closing: boolean,
    transport: Transport,
    user: unknown,
    identity?: Identity,
    remoteAddress?: string,
  ): ConnectionInput {
    const conn = new Connection(host, transport, user);
    conn.remoteAddress = remoteAddress;
    const { heartbeatInterval: hb, limits } = this.ctx.options;
    // Upgrades authenticated concurrently past the check in authenticate() are refused here:
    // 1013 Try Again Later when full (the SDK reconnects with backoff).
    if (closing || this.conns.size >= limits.maxConnections) {
      if (closing) transport.close(CLOSE.GOING_AWAY, 'server shutting down');
      else transport.close(1013, 'hub is full (limits.maxConnections)');
      conn.open = false;
      return conn;
    }
    this.conns.set(conn.id, conn);
    this.ctx.counters.connectionsAccepted++;
    this.control.add(conn);
    const welcome: Omit<WelcomeFrame, 'op' | 'v'> = {
      cid: conn.id,
      hb,
      win: limits.inflightWindow,
      pr: limits.publishesPerSecond,
    };
    if (identity) {
      conn.request = identity.request;
      conn.serverChannels = identity.channels;
      this.control.expiries.set(conn, identity.expiresAt);
      const exp = this.control.expiries.remaining(conn);
      if (exp !== undefined) welcome.exp = exp;
      if (identity.channels?.size) welcome.subs = serverChannelsWire(identity.channels);
    }
    conn.send(welcomeFrame(welcome, PROTOCOL_VERSION));
    this.events.opened(conn.id, user);
    this.ctx.log('debug', { connectionId: conn.id, userId: conn.userKey, remoteAddress }, 'connection opened');
    if (DIAGNOSTICS.connection.hasSubscribers)
      DIAGNOSTICS.connection.publish({ event: 'open', id: conn.id, userId: conn.userKey, remoteAddress });
    return conn;
  }

  /** Forgets a closed connection and reports the close. */
  closed(conn: Connection, code: number): void {
    this.conns.delete(conn.id);
    this.control.remove(conn);
    const { counters } = this.ctx;
    if (code === CLOSE.SLOW_CONSUMER) counters.slowConsumerCloses++;
    countBy(counters.closes, code);
    const fields = { connectionId: conn.id, userId: conn.userKey, remoteAddress: conn.remoteAddress, code };
    // Closes the server decided because of the client (slow consumer, bad frames) are worth a warning.
    if (code === CLOSE.SLOW_CONSUMER || code === CLOSE.TOO_MANY_ERRORS)
      this.ctx.log('warn', fields, 'connection closed for misbehaving');
    else this.ctx.log('debug', fields, 'connection closed');
    if (DIAGNOSTICS.connection.hasSubscribers)
      DIAGNOSTICS.connection.publish({ event: 'close', id: conn.id, userId: fields.userId, code });
    this.events.closed(conn, code);
    if (this.conns.size === 0) this.onEmpty?.();
  }

  /** Closes every connection with 1001, waits up to `timeoutMs` for their handshakes, then terminates the rest. */
  async closeAll(timeoutMs: number): Promise<void> {
    const allClosed = new Promise<void>((resolve) => {
      this.onEmpty = resolve;
      if (this.conns.size === 0) resolve();
    });
    for (const c of [...this.conns.values()]) c.transport.close(CLOSE.GOING_AWAY, 'server shutting down');
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([allClosed, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    for (const c of [...this.conns.values()]) {
      c.transport.terminate();
      c.closed(CLOSE.GOING_AWAY);
    }
  }
}
