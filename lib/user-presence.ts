/**
 * Presence by user (docs/presence.md#presence-by-user): a user with three tabs is one member
 * with three connections, joining on its first connection and leaving with its last.
 *
 * It rides on the engine's own {@link PresenceStore}, so it is shared across nodes and crash-safe
 * exactly like connection presence: every connection of a user in channel `c` is one entry
 * `<user>/<connection>` of the shadow channel `$u:c` (a name no client can use). A store that
 * reaps a dead node's members reaps its entries too and announces their leaves. Each node derives
 * users from entries only for channels one of its subscriptions watches at the user level: it
 * lists the entries once when the first such watcher arrives and then follows join/leave events.
 * @module
 */
import type { Subscription } from './delivery.js';
import type { PresenceStore } from './engine.js';
import { SwitchyardError } from './errors.js';
import { userJoinFrame as joinText, userLeaveFrame as leaveText } from './frames.js';

type Log = (level: 'warn' | 'error', obj: object, msg: string) => void;

/** Prefix of shadow channels in the presence store. */
export const USER_PRESENCE_PREFIX = '$u:';
/** Entries read per user-level listing, per user asked for (a user has several connections). */
const ENTRIES_PER_USER = 8;

/** One user of a channel, as `hub.presenceUsers()` and the SDK return it. */
export interface PresenceUser {
  /** The user's id (the hub's `userId` option). */
  userId: string;
  /** Open connections of the user subscribed to the channel, across all nodes. */
  connections: number;
  /** What `presenceInfo` returned for the user (from one of its connections); absent without the hook. */
  info?: unknown;
}

/** Users of a channel. */
export interface PresenceUsersResult {
  users: PresenceUser[];
  /** True when the channel has more users (or connections) than were read. */
  truncated: boolean;
}

const entryId = (user: string, cid: string): string => encodeURIComponent(user) + '/' + cid;
function parseEntry(id: string): { user: string; cid: string } | undefined {
  const i = id.lastIndexOf('/');
  if (i <= 0) return undefined;
  try {
    return { user: decodeURIComponent(id.slice(0, i)), cid: id.slice(i + 1) };
  } catch {
    return undefined;
  }
}

interface Watch {
  subs: Set<Subscription>;
  /** user → its entries (entry id → info) on every node. */
  users: Map<string, Map<string, string | undefined>>;
  /** Events that arrived while the first listing was in flight, applied after it. */
  pending: Array<[boolean, string, string | undefined]> | undefined;
}

/** @internal The hub's user-level presence. */
export class UserPresence {
  private readonly watches = new Map<string, Watch>();
  /** Set while the hub shuts down (see `PresenceTracker.muted`). */
  muted = false;

  constructor(
    private readonly store: PresenceStore,
    private readonly log: Log,
    private readonly listLimit: number,
  ) {}

  /** The shadow channel of `channel`'s user entries. */
  static shadow(channel: string): string {
    return USER_PRESENCE_PREFIX + channel;
  }

  /** Records one connection of `user` in `channel`; rejects with 201 when the store fails. */
  async join(channel: string, user: string, cid: string, info: string | undefined): Promise<void> {
    try {
      await this.store.join(UserPresence.shadow(channel), entryId(user, cid), info);
    } catch (err) {
      this.log('error', { err, channel }, 'user presence join failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'presence not stored');
    }
    this.apply(channel, true, entryId(user, cid), info);
  }

  /** Removes one connection of `user` from `channel`. */
  leave(channel: string, user: string, cid: string): void {
    this.store
      .leave(UserPresence.shadow(channel), entryId(user, cid))
      .catch((err: unknown) => this.log('warn', { err, channel }, 'user presence leave failed'));
    this.apply(channel, false, entryId(user, cid), undefined);
  }

  /** A join or leave from another node, as the store's sink reports it; false when not a shadow channel. */
  remote(shadowChannel: string, joined: boolean, entry: string, info: string | undefined): boolean {
    if (!shadowChannel.startsWith(USER_PRESENCE_PREFIX)) return false;
    this.apply(shadowChannel.slice(USER_PRESENCE_PREFIX.length), joined, entry, info);
    return true;
  }

  /** Starts user-level events for `sub` (after its subscribe reply). */
  watch(sub: Subscription): void {
    let w = this.watches.get(sub.channel);
    if (w) {
      w.subs.add(sub);
      return;
    }
    w = { subs: new Set([sub]), users: new Map(), pending: [] };
    this.watches.set(sub.channel, w);
    this.store.interest?.(UserPresence.shadow(sub.channel), true);
    void this.prime(sub.channel, w);
  }

  /** Whether `sub` receives user-level events. */
  watching(sub: Subscription): boolean {
    return this.watches.get(sub.channel)?.subs.has(sub) === true;
  }

  /** Ends `sub`'s user-level events (idempotent). */
  unwatch(sub: Subscription): void {
    const w = this.watches.get(sub.channel);
    if (!w?.subs.delete(sub) || w.subs.size > 0) return;
    this.watches.delete(sub.channel);
    this.store.interest?.(UserPresence.shadow(sub.channel), false);
  }

  /** Reads the current entries once, then applies what arrived meanwhile. */
  private async prime(channel: string, w: Watch): Promise<void> {
    try {
      const page = await this.store.members(UserPresence.shadow(channel), this.listLimit * ENTRIES_PER_USER);
      for (const m of page.members) this.mutate(w, true, m.connectionId, m.info);
    } catch (err) {
      this.log('warn', { err, channel }, 'user presence listing failed; events start from an empty list');
    }
    const pending = w.pending ?? [];
    w.pending = undefined;
    for (const [joined, entry, info] of pending) this.apply(channel, joined, entry, info);
  }

  private apply(channel: string, joined: boolean, entry: string, info: string | undefined): void {
    const w = this.watches.get(channel);
    if (!w) return;
    if (w.pending) {
      w.pending.push([joined, entry, info]);
      return;
    }
    const change = this.mutate(w, joined, entry, info);
    if (change === 'first') this.send(w, joinText(channel, parseEntry(entry)!.user, info));
    else if (change === 'last') this.send(w, leaveText(channel, parseEntry(entry)!.user));
  }

  /** Adds or removes an entry; says whether it was the user's first or last connection. */
  private mutate(w: Watch, joined: boolean, entry: string, info: string | undefined): 'first' | 'last' | undefined {
    const e = parseEntry(entry);
    if (!e) return undefined;
    let conns = w.users.get(e.user);
    if (joined) {
      if (!conns) w.users.set(e.user, (conns = new Map()));
      const first = conns.size === 0;
      conns.set(entry, info);
      return first ? 'first' : undefined;
    }
    if (!conns?.delete(entry) || conns.size > 0) return undefined;
    w.users.delete(e.user);
    return 'last';
  }

  private send(w: Watch, text: string): void {
    if (this.muted) return;
    const frame = Buffer.from(text); // serialized once for every watcher
    for (const sub of [...w.subs]) sub.target.send(frame);
  }

  /** Users of `channel`: at most `limit`, grouped from up to `limit × 8` connection entries. */
  async users(
    channel: string,
    limit: number,
  ): Promise<{ users: Array<{ userId: string; connections: number; info: string | undefined }>; truncated: boolean }> {
    let page;
    try {
      page = await this.store.members(UserPresence.shadow(channel), limit * ENTRIES_PER_USER);
    } catch (err) {
      this.log('error', { err, channel }, 'user presence read failed');
      throw new SwitchyardError('ENGINE_UNAVAILABLE', 'presence not readable');
    }
    const byUser = new Map<string, { userId: string; connections: number; info: string | undefined }>();
    for (const m of page.members) {
      const e = parseEntry(m.connectionId);
      if (!e) continue;
      const u = byUser.get(e.user);
      if (u) u.connections++;
      else byUser.set(e.user, { userId: e.user, connections: 1, info: m.info });
    }
    const users = [...byUser.values()];
    return { users: users.slice(0, limit), truncated: page.truncated || users.length > limit };
  }
}
