/**
 * Presence on the hub's side: joins a connection when its subscribe to a presence channel
 * succeeds, leaves it when the subscription ends, tells the subscriptions that asked for
 * events, and builds member lists. Who is a member is kept by a {@link PresenceStore}; this
 * file decides when to call it and what the wire sees. `docs/protocol.md` [PRES-n].
 * @module
 */
import type { Subscription } from './delivery.js';
import type { PresenceMembers, PresenceStore } from './engine.js';
import { SwitchyardError } from './errors.js';
import type { PresenceResult } from './protocol.js';
import { UserPresence, type PresenceUsersResult } from './user-presence.js';
import { joinFrame as joinText, leaveFrame as leaveText, memberText } from './frames.js';

type Log = (level: 'warn' | 'error', obj: object, msg: string) => void;

interface Member {
  connectionId: string;
  info: string | undefined;
  /** The join event went out, so the end of this membership is announced as a leave. */
  announced: boolean;
  /** The user id under which the connection also counts at the user level (docs/presence.md#presence-by-user). */
  user?: string;
}

/** @internal The hub's presence bookkeeping. */
export class PresenceTracker {
  private readonly joined = new Map<Subscription, Member>();
  /** Subscriptions that asked for join/leave events, per channel. */
  private readonly watchers = new Map<string, Set<Subscription>>();
  /** Info text per connection (keyed by the delivery target): the hook runs once per connection. */
  private readonly infos = new WeakMap<object, Promise<string | undefined>>();
  private readonly queue: Array<[channel: string, text: string]> = [];
  private flushing = false;
  /**
   * Set while the hub shuts down: every member is about to leave, and announcing each leave to
   * every other closing watcher would cost members × watchers sends for nobody.
   */
  // (stored on the user-level view, which is muted with it)
  get muted(): boolean {
    return this.users.muted;
  }
  set muted(v: boolean) {
    this.users.muted = v;
  }
  /** The user-level view, kept in the same store. */
  readonly users: UserPresence;

  constructor(
    readonly store: PresenceStore,
    private readonly hook: ((user: unknown) => unknown) | undefined,
    private readonly maxInfoBytes: number,
    private readonly log: Log,
    listLimit = 1_000,
  ) {
    this.users = new UserPresence(store, log, listLimit);
    // Other nodes' events reach the same watchers through the same serialize-once path.
    store.watch?.({
      join: (channel, m) => {
        if (this.users.remote(channel, true, m.connectionId, m.info)) return;
        if (this.watchers.has(channel)) this.broadcast(channel, joinText(channel, m.connectionId, m.info));
      },
      leave: (channel, connectionId) => {
        if (this.users.remote(channel, false, connectionId, undefined)) return;
        if (this.watchers.has(channel)) this.broadcast(channel, leaveText(channel, connectionId));
      },
    });
  }

  private info(target: object, user: unknown): Promise<string | undefined> {
    let p = this.infos.get(target);
    if (!p) {
      p = this.computeInfo(user);
      this.infos.set(target, p);
      // A failure is not remembered, so a fixed hook helps the connection's next subscribe.
      p.catch(() => this.infos.delete(target));
    }
    return p;
  }

  private async computeInfo(user: unknown): Promise<string | undefined> {
    if (!this.hook) return undefined;
    let text: string | undefined;
    try {
      const v = await this.hook(user);
      if (v === undefined) return undefined;
      text = JSON.stringify(v);
      if (text === undefined) throw new TypeError(`returned ${typeof v}, not a JSON value`);
    } catch (err) {
      this.log('error', { err }, 'presenceInfo hook failed');
      throw new SwitchyardError('INTERNAL', 'presenceInfo hook failed');
    }
    if (text.length > this.maxInfoBytes || Buffer.byteLength(text) > this.maxInfoBytes) {
      this.log(
        'error',
        { bytes: Buffer.byteLength(text), max: this.maxInfoBytes },
        'presenceInfo result larger than limits.maxPresenceInfoBytes',
      );
      throw new SwitchyardError('INTERNAL', 'presenceInfo result too large');
    }
    return text;
  }

  /**
   * Makes `sub`'s connection a member of its channel. Rejects with 200 when the info hook fails
   * and 201 when the store does. Joins nothing when the subscription ended meanwhile.
   */
  async join(sub: Subscription, connectionId: string, user: unknown, userKey?: string): Promise<void> {
    const info = await this.info(sub.target, user);
    if (!sub.active) return;
    try {
      await this.store.join(sub.channel, connectionId, info);
    } catch (err) {
      this.log('error', { err, channel: sub.channel }, 'presence join failed');
      this.leaveQuietly(sub.channel, connectionId);
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'presence not stored');
    }
    if (userKey !== undefined && sub.active) {
      try {
        await this.users.join(sub.channel, userKey, connectionId, info);
      } catch (err) {
        this.leaveQuietly(sub.channel, connectionId);
        throw err;
      }
      if (!sub.active) this.users.leave(sub.channel, userKey, connectionId);
    }
    // Unsubscribed or disconnected while the store worked: undo, nobody was told.
    if (!sub.active) return this.leaveQuietly(sub.channel, connectionId);
    this.joined.set(
      sub,
      userKey === undefined
        ? { connectionId, info, announced: false }
        : { connectionId, info, announced: false, user: userKey },
    );
  }

  /**
   * After the subscribe reply: registers `sub` for events when `watch`, then tells every
   * watcher (the new one included) about the join.
   */
  announce(sub: Subscription, watch: boolean, watchUsers = false): void {
    if (!sub.active) return;
    if (watchUsers) this.users.watch(sub);
    if (watch) {
      let set = this.watchers.get(sub.channel);
      if (!set) {
        this.watchers.set(sub.channel, (set = new Set()));
        this.store.interest?.(sub.channel, true);
      }
      set.add(sub);
    }
    const m = this.joined.get(sub);
    if (!m) return;
    m.announced = true;
    if (this.watchers.has(sub.channel)) this.broadcast(sub.channel, joinText(sub.channel, m.connectionId, m.info));
  }

  /** Whether `sub` receives join/leave events (of connections or users). */
  watching(sub: Subscription): boolean {
    return this.watchers.get(sub.channel)?.has(sub) === true || this.users.watching(sub);
  }

  /** A subscription ended (unsubscribe, refusal, disconnect): leave and tell the watchers. */
  remove(sub: Subscription): void {
    this.users.unwatch(sub);
    const set = this.watchers.get(sub.channel);
    if (set?.delete(sub) && set.size === 0) {
      this.watchers.delete(sub.channel);
      this.store.interest?.(sub.channel, false);
    }
    const m = this.joined.get(sub);
    if (!m) return;
    this.joined.delete(sub);
    this.leaveQuietly(sub.channel, m.connectionId);
    if (m.user !== undefined) this.users.leave(sub.channel, m.user, m.connectionId);
    if (m.announced && this.watchers.has(sub.channel)) {
      this.broadcast(sub.channel, leaveText(sub.channel, m.connectionId));
    }
  }

  private leaveQuietly(channel: string, connectionId: string): void {
    this.store.leave(channel, connectionId).catch((err: unknown) => {
      this.log('warn', { err, channel }, 'presence leave failed');
    });
  }

  private broadcast(channel: string, text: string): void {
    if (this.muted) return;
    // A send can close a slow connection, whose leave would broadcast from inside this loop:
    // queue instead of recursing, so a cascade of closes stays flat.
    this.queue.push([channel, text]);
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (const [ch, t] of this.queue) {
        const set = this.watchers.get(ch);
        if (!set) continue;
        const frame = Buffer.from(t); // serialized once, the same bytes for every watcher
        for (const sub of set) sub.target.send(frame);
      }
    } finally {
      this.queue.length = 0;
      this.flushing = false;
    }
  }

  private async page(channel: string, limit: number): Promise<PresenceMembers> {
    try {
      return await this.store.members(channel, limit);
    } catch (err) {
      this.log('error', { err, channel }, 'presence read failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'presence not readable');
    }
  }

  /** The JSON text of a [PRES-6] result, member texts spliced without re-encoding. */
  async membersText(channel: string, limit: number): Promise<string> {
    const { members, truncated } = await this.page(channel, limit);
    let text = '{"members":[';
    members.slice(0, limit).forEach((m, i) => (text += (i ? ',' : '') + memberText(m.connectionId, m.info)));
    return text + '],"truncated":' + (truncated || members.length > limit) + '}';
  }

  /** The JSON text of a [PRES-9] result. */
  async usersText(channel: string, limit: number): Promise<string> {
    const { users, truncated } = await this.users.users(channel, limit);
    let text = '{"users":[';
    users.forEach(
      (u, i) =>
        (text +=
          (i ? ',' : '') +
          '{"id":' +
          JSON.stringify(u.userId) +
          ',"n":' +
          u.connections +
          (u.info === undefined ? '' : ',"info":' + u.info) +
          '}'),
    );
    return text + '],"truncated":' + truncated + '}';
  }

  /** Users as `hub.presenceUsers()` returns them. */
  async usersResult(channel: string, limit: number): Promise<PresenceUsersResult> {
    const { users, truncated } = await this.users.users(channel, limit);
    return {
      users: users.map((u) =>
        u.info === undefined
          ? { userId: u.userId, connections: u.connections }
          : { userId: u.userId, connections: u.connections, info: JSON.parse(u.info) as unknown },
      ),
      truncated,
    };
  }

  /** Members as the server API returns them. */
  async members(channel: string, limit: number): Promise<PresenceResult> {
    const { members, truncated } = await this.page(channel, limit);
    return {
      members: members
        .slice(0, limit)
        .map((m) =>
          m.info === undefined
            ? { connectionId: m.connectionId }
            : { connectionId: m.connectionId, info: JSON.parse(m.info) as unknown },
        ),
      truncated: truncated || members.length > limit,
    };
  }
}
