/**
 * Control of connections by the server: `hub.disconnect()`, `hub.unsubscribe()`,
 * `hub.refreshUser()` and in-band token refresh. Keeps the index of connections by user id (the
 * `userId` option), tells the other nodes through control messages on the broker, and acts on
 * theirs.
 * @module
 */
import { CLOSE } from './close-codes.js';
import type { Connection } from './connection.js';
import { optionError, SwitchyardError } from './errors.js';
import { authorizedFor } from './authorization.js';
import { refreshedFrame } from './frames.js';
import type { HubContext } from './hub-context.js';
import { isIntIn } from './integers.js';
import type { RefreshFrame, RefreshResult } from './protocol.js';
import { ExpiryTable, reauthenticate, serverChannelsWire } from './refresh.js';
import { controlMessage, defaultUserId, parseControl, UserIndex, userKey, type ControlMessage } from './revocation.js';
import type { AuthRequest } from './transport.js';

/**
 * Whether `code` may be passed to `hub.disconnect()`: 1000, 1001, the library's KICKED, or an
 * application code (4000–4499 reconnect, 4500–4999 stop). The library's other codes
 * (3000–3999) describe conditions it detects itself, so an application cannot send them.
 */
export function disconnectCodeAllowed(code: unknown): code is number {
  return code === 1000 || code === 1001 || code === CLOSE.KICKED || isIntIn(code, 4000, 4999);
}

/** Server-side control of one hub's connections, by id or by user, across nodes. @internal */
export class UserControl {
  private readonly users = new UserIndex<Connection>();
  readonly expiries: ExpiryTable;

  constructor(
    private readonly ctx: HubContext,
    private readonly conns: ReadonlyMap<string, Connection>,
    /** Names this node in control messages, so it skips the ones it sent. */
    private readonly nodeId: string,
  ) {
    this.expiries = new ExpiryTable(ctx.options.refreshLead);
  }

  /** Indexes a new connection under its user id. */
  add(conn: Connection): void {
    conn.userKey = userKey(this.userIdOf(conn.user));
    this.users.add(conn.userKey, conn);
  }

  /** Forgets a closed connection. */
  remove(conn: Connection): void {
    this.expiries.delete(conn);
    this.users.delete(conn.userKey, conn);
  }

  disconnect(target: string | { user: string | number }, code: number, reason: string): boolean {
    if (!disconnectCodeAllowed(code)) {
      throw optionError(
        'code',
        `1000, 1001, ${CLOSE.KICKED} (KICKED, the default) or an application code from 4000 to 4999 (4000-4499 reconnect, 4500-4999 stop; see docs/protocol.md §Close codes)`,
        code,
      );
    }
    if (typeof reason !== 'string') throw optionError('reason', 'a string', reason);
    if (typeof target === 'string') {
      const c = this.conns.get(target);
      c?.close(code, reason);
      if (!c) this.broadcast({ n: this.nodeId, k: 'disconnect', c: target, code, reason }).catch(() => {});
      return c !== undefined;
    }
    const u = this.targetUser(target);
    const closed = this.disconnectLocal(u, code, reason);
    this.broadcast({ n: this.nodeId, k: 'disconnect', u, code, reason }).catch(() => {});
    return closed;
  }

  async unsubscribe(user: string | number, channel: string): Promise<void> {
    const u = this.targetUser({ user });
    this.unsubscribeLocal(u, channel);
    await this.broadcast({ n: this.nodeId, k: 'unsubscribe', u, ch: channel });
  }

  /** Throws 150 unless `user` is a user id. */
  checkUser(user: unknown): void {
    this.targetUser({ user });
  }

  async refreshUser(user: string | number): Promise<void> {
    const u = this.targetUser({ user });
    for (const c of this.users.get(u)) void this.reauthorizeSubscriptions(c);
    await this.broadcast({ n: this.nodeId, k: 'reauthorize', u });
  }

  /** Acts on a control message from another node. */
  receive(payload: string): void {
    const m = parseControl(payload);
    if (!m || m.n === this.nodeId) return;
    if (m.k === 'disconnect') {
      if (m.c !== undefined) this.conns.get(m.c)?.close(m.code, m.reason);
      else this.disconnectLocal(m.u!, m.code, m.reason);
    } else if (m.k === 'unsubscribe') this.unsubscribeLocal(m.u, m.ch);
    else for (const c of this.users.get(m.u)) void this.reauthorizeSubscriptions(c);
  }

  /** [REF-2..REF-5] Handles a client's `refresh` frame. */
  async refreshConnection(conn: Connection, f: RefreshFrame): Promise<void> {
    const onError = (err: unknown): void => this.ctx.log('error', { err, connectionId: conn.id }, 'refresh hook threw');
    const refreshHook = this.ctx.userOptions.refresh;
    const authHook = this.ctx.userOptions.authenticate;
    const user = conn.user;
    const identity = await reauthenticate(
      refreshHook
        ? () => refreshHook({ token: f.token, user, connectionId: conn.id })
        : // No upgrade request on a refresh, so no `raw` whatever the adapter (docs/identity.md).
          () =>
            authHook
              ? authHook({
                  headers: {},
                  url: conn.request?.url ?? '/',
                  remoteAddress: conn.request?.remoteAddress,
                  token: f.token,
                  raw: undefined,
                } as AuthRequest<never>)
              : user,
      this.ctx.options.limits.authTimeout,
      onError,
    );
    if (!conn.open) return;
    this.users.delete(conn.userKey, conn);
    conn.user = identity.user;
    this.add(conn);
    const previousGrant = conn.serverChannels;
    conn.serverChannels = identity.channels;
    this.expiries.set(conn, identity.expiresAt);
    const exp = this.expiries.remaining(conn);
    const subs = serverChannelsWire(identity.channels);
    const res: RefreshResult = exp === undefined ? { subs } : { subs, exp };
    // The reply goes first so the client knows the new channel list before any `end` frame.
    conn.send(refreshedFrame(f.id, res));
    await this.reauthorizeSubscriptions(conn, previousGrant);
  }

  private userIdOf(user: unknown): string | number | undefined {
    const hook = this.ctx.userOptions.userId;
    if (!hook) return defaultUserId(user);
    try {
      const id = hook(user);
      return typeof id === 'string' || typeof id === 'number' ? id : undefined;
    } catch (err) {
      this.ctx.log('warn', { err }, 'userId hook threw; connection cannot be targeted by user');
      return undefined;
    }
  }

  private targetUser(target: unknown): string {
    const id = typeof target === 'object' && target !== null ? (target as { user?: unknown }).user : undefined;
    const key = typeof id === 'string' || typeof id === 'number' ? userKey(id) : undefined;
    if (key === undefined)
      throw optionError('user', 'a user id: a non-empty string (at most 1024 chars) or a number', id);
    return key;
  }

  /** Sends a control message to the other nodes. Rejects with 201 when the broker fails. */
  private async broadcast(m: ControlMessage): Promise<void> {
    try {
      await this.ctx.ready;
      await this.ctx.engine.broker.publish(controlMessage(m));
    } catch (err) {
      this.ctx.log('warn', { err, kind: m.k }, 'control message not sent; other nodes were not told');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'other nodes could not be told');
    }
  }

  private disconnectLocal(user: string, code: number, reason: string): boolean {
    const conns = this.users.get(user);
    for (const c of conns) c.close(code, reason);
    return conns.length > 0;
  }

  private unsubscribeLocal(user: string, channel: string): void {
    for (const c of this.users.get(user)) {
      const sub = c.subs.get(channel);
      if (sub) c.endSubscription(sub, 'UNSUBSCRIBED_BY_SERVER', `[END-1] ${channel} ended by the server`);
    }
  }

  /**
   * [REF-5] Re-checks every subscription of `conn` against its current user: server-side channels
   * still granted stay; a server-side channel withdrawn, or a client subscription `authorize` now
   * denies (action `subscribe`, plus `presence` when it receives presence events), ends with 121.
   */
  private async reauthorizeSubscriptions(
    conn: Connection,
    previousGrant?: ReadonlyMap<string, unknown>,
  ): Promise<void> {
    const allowed = (action: 'subscribe' | 'presence', channel: string): Promise<boolean> =>
      authorizedFor(this.ctx, action, channel, conn.user, conn.id);
    await Promise.all(
      [...conn.subs.values()].map(async (sub) => {
        if (conn.serverChannels?.has(sub.channel)) return;
        const withdrawn = previousGrant?.has(sub.channel) === true;
        // Presence events reveal the member list, so a watcher also needs the presence right still ([PRES-4]).
        if (
          !withdrawn &&
          (await allowed('subscribe', sub.channel)) &&
          (!this.ctx.presenceTracker.watching(sub) || (await allowed('presence', sub.channel)))
        )
          return;
        conn.endSubscription(sub, 'SUBSCRIPTION_REVOKED', `[END-1] ${sub.channel} is no longer authorized`);
      }),
    );
  }
}
