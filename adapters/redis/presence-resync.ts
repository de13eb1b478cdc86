/**
 * What a node has told its watchers about other nodes' members of one channel, and how a fresh
 * read of the member hash corrects it after the event subscription was interrupted (pub/sub is
 * at-most-once: events published while a node was not subscribed are gone). No Redis here: the
 * store reads, this decides which joins and leaves make the watchers' view exact again.
 * @module
 */
import type { StoredPresenceMember } from '../../lib/engine.js';

/**
 * Most remote members of one channel a node tracks for resynchronization (default 10,000: more
 * than the 8,000 entries a user-level listing reads at the hub's default limits). It bounds both
 * the memory kept per watched channel and the read after an interruption (a few dozen HSCAN
 * calls). A channel past it is not tracked: its events stay at-most-once across an
 * interruption, as without resynchronization, until a later read finds it under the cap again.
 */
export const RESYNC_MAX_MEMBERS = 10_000;

/** The joins and leaves that turn what watchers were told into what a read found. */
export interface PresenceDiff {
  joins: StoredPresenceMember[];
  leaves: string[];
}

/**
 * Members in `snapshot` that watchers were not told about join; members they were told about
 * that `snapshot` lacks leave. Members in `touched` (an event about them arrived while the read
 * was in flight) are left alone: that event is at least as new as what the read saw of them.
 */
export function presenceDiff(
  announced: ReadonlySet<string>,
  snapshot: ReadonlyMap<string, string | undefined>,
  touched: ReadonlySet<string>,
): PresenceDiff {
  const joins: StoredPresenceMember[] = [];
  const leaves: string[] = [];
  for (const [connectionId, info] of snapshot)
    if (!announced.has(connectionId) && !touched.has(connectionId)) joins.push({ connectionId, info });
  for (const connectionId of announced)
    if (!snapshot.has(connectionId) && !touched.has(connectionId)) leaves.push(connectionId);
  return { joins, leaves };
}

/**
 * One watched channel's remote members as this node announced them. Events are never held back:
 * the ones that arrive while a read is in flight are delivered at once and recorded, and the read
 * then corrects only the members no event spoke about (see {@link presenceDiff}). Holding events
 * until the read ends would delay every event of the channel by a read, and replaying them after
 * the snapshot gives the same result for the members they name.
 *
 * Events are not filtered against what was announced: an event published just before a read
 * may reach this node after the read's reply (they travel on two connections), so it repeats a
 * join or leave the read just announced. Delivering the repeat is harmless (a watcher's member
 * map sets and deletes idempotently); dropping it could lose a real event in the converse race,
 * where the first read learnt a member the watcher's own list had not shown it.
 */
export class AnnouncedMembers {
  /** Remote members announced; undefined while untracked (over the cap). */
  private known: Set<string> | undefined = new Set();
  /**
   * Whether `known` is every remote member watchers were told about. False until the first read
   * ends: before it, the watcher's own list, not this node's events, told it about members.
   */
  private complete = false;
  /** Members an event spoke about since the read in flight began. */
  private touched: Set<string> | undefined;

  constructor(private readonly cap = RESYNC_MAX_MEMBERS) {}

  /** Whether the channel is tracked (it was under the cap at the last read and since). */
  get tracked(): boolean {
    return this.known !== undefined;
  }

  /** An event from another node, delivered to the watchers. */
  event(joined: boolean, connectionId: string): void {
    this.touched?.add(connectionId);
    const known = this.known;
    if (!known) return;
    if (!joined) known.delete(connectionId);
    else if (known.has(connectionId)) return;
    else if (known.size >= this.cap) this.untrack();
    else known.add(connectionId);
  }

  /** A read of the member hash begins (after the event subscription is in place). */
  begin(): void {
    this.touched = new Set();
    this.known ??= new Set();
  }

  /** The read failed: nothing learnt, the next one starts over. */
  abort(): void {
    this.touched = undefined;
  }

  /**
   * The read ended with `snapshot` (other nodes' live members), or undefined when the channel
   * has more than the cap. Members in `coming` have an event on its way (the read deleted them,
   * which publishes their leave): they are left to it. Answers what to announce: nothing after
   * the first read, which only learns what the watchers' own list already told them.
   */
  end(snapshot: ReadonlyMap<string, string | undefined> | undefined, coming: Iterable<string> = []): PresenceDiff {
    const touched = this.touched ?? new Set<string>();
    this.touched = undefined;
    for (const id of coming) touched.add(id);
    const known = this.known;
    if (!snapshot || snapshot.size > this.cap || !known) {
      this.untrack();
      return { joins: [], leaves: [] };
    }
    const diff = presenceDiff(known, snapshot, touched);
    for (const m of diff.joins) known.add(m.connectionId);
    for (const id of diff.leaves) known.delete(id);
    if (this.complete) return diff;
    this.complete = true;
    return { joins: [], leaves: [] };
  }

  private untrack(): void {
    this.known = undefined;
    this.complete = false;
  }
}
