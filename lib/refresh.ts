/**
 * Connection expiry and in-band token refresh (docs/identity.md, [REF-*] in docs/protocol.md).
 * A connection whose `authenticate` returned an expiring grant is asked for a fresh token before
 * it expires; a `refresh` frame re-runs authentication over the open socket, updates the user,
 * re-checks every subscription and extends the expiry. One table checked from the hub's single
 * timer replaces per-connection timers; it keeps connections in time buckets, so a tick touches
 * only the connections whose deadline is due.
 * @module
 */
import { CLOSE } from './close-codes.js';
import { SwitchyardError } from './errors.js';
import { refreshRequestFrame } from './frames.js';
import { identityOf, type Identity } from './grant.js';
import type { QoS } from './protocol.js';

interface Deadline {
  /** `Date.now()` at which the server sends `refresh`. */
  askAt: number;
  /** `Date.now()` after which an unrefreshed connection is closed with 3010. */
  expiresAt: number;
  asked: boolean;
  /** The time bucket the connection waits in for its next event. */
  bucket: number;
}

/** What the table needs from a connection with expiring credentials. */
export interface Expiring {
  readonly open: boolean;
  send(frame: string): void;
  close(code: number, reason: string): void;
}

/** Width of a time bucket, ms: deadlines fire up to this late, never early. */
const BUCKET_MS = 100;

/** When to ask for a refresh: `lead` ms before expiry, or halfway there for a short-lived token. */
export function refreshAskTime(now: number, expiresAt: number, lead: number): number {
  return expiresAt - Math.min(lead, Math.max(0, (expiresAt - now) / 2));
}

/**
 * Expiring connections and their deadlines, driven by the hub's timer. Connections wait in
 * 100 ms buckets of their next event (ask, then close), so a check touches only what is due:
 * a tick with nothing due costs a map lookup whatever the number of connections.
 */
export class ExpiryTable {
  private readonly deadlines = new Map<Expiring, Deadline>();
  private readonly buckets = new Map<number, Set<Expiring>>();
  /** The first bucket not yet processed. */
  private next: number;

  constructor(
    private readonly lead: number,
    now = Date.now(),
  ) {
    this.next = Math.floor(now / BUCKET_MS);
  }

  /** Sets (or, with `undefined`, clears) when `conn`'s credentials expire. */
  set(conn: Expiring, expiresAt: number | undefined, now = Date.now()): void {
    this.delete(conn);
    if (expiresAt === undefined) return;
    const d: Deadline = { askAt: refreshAskTime(now, expiresAt, this.lead), expiresAt, asked: false, bucket: 0 };
    this.deadlines.set(conn, d);
    this.place(conn, d);
  }

  delete(conn: Expiring): void {
    const d = this.deadlines.get(conn);
    if (!d) return;
    this.deadlines.delete(conn);
    const set = this.buckets.get(d.bucket);
    if (set?.delete(conn) && set.size === 0) this.buckets.delete(d.bucket);
  }

  /** Milliseconds until `conn` expires, or undefined when it does not. */
  remaining(conn: Expiring, now = Date.now()): number | undefined {
    const d = this.deadlines.get(conn);
    return d && Math.max(0, d.expiresAt - now);
  }

  private place(conn: Expiring, d: Deadline): void {
    // An event already in the past waits in the next bucket to be processed.
    d.bucket = Math.max(this.next, Math.floor((d.asked ? d.expiresAt : d.askAt) / BUCKET_MS));
    let set = this.buckets.get(d.bucket);
    if (!set) this.buckets.set(d.bucket, (set = new Set()));
    set.add(conn);
  }

  /** Asks due connections to refresh and closes expired ones. */
  check(now = Date.now()): void {
    const until = Math.floor(now / BUCKET_MS);
    if (until < this.next) return;
    // Normally one bucket per tick; after a long stall or a clock jump, only the buckets that exist.
    const due =
      until - this.next > this.buckets.size
        ? [...this.buckets.keys()].filter((b) => b <= until).sort((a, b) => a - b)
        : undefined;
    const from = this.next;
    this.next = until + 1;
    if (due) for (const b of due) this.fire(b, now);
    else for (let b = from; b <= until; b++) this.fire(b, now);
  }

  private fire(bucket: number, now: number): void {
    const set = this.buckets.get(bucket);
    if (!set) return;
    this.buckets.delete(bucket);
    for (const conn of set) {
      const d = this.deadlines.get(conn);
      if (!d) continue;
      if (!conn.open) {
        this.deadlines.delete(conn);
      } else if (now >= d.expiresAt) {
        this.deadlines.delete(conn);
        conn.close(CLOSE.TOKEN_EXPIRED, 'credentials expired without a refresh');
      } else {
        if (!d.asked && now >= d.askAt) {
          d.asked = true;
          // [REF-1] the client has until the expiry to answer.
          conn.send(refreshRequestFrame(d.expiresAt - now));
        }
        this.place(conn, d);
      }
    }
  }
}

/** What a `refresh` hook is given (see `SwitchyardOptions.refresh`). */
export interface RefreshRequest<User = unknown> {
  /** The new token the client sent. Never logged by switchyard. */
  readonly token: string;
  /** The connection's current user (what the last authentication returned). */
  readonly user: User;
  /** The connection's id. */
  readonly connectionId: string;
}

const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Runs the hook that re-authenticates a connection, bounded by `timeoutMs`. Resolves with the new
 * identity; rejects with 120 TOKEN_REJECTED when the hook refused, threw or was too slow.
 */
export async function reauthenticate(
  hook: () => unknown,
  timeoutMs: number,
  onError: (err: unknown) => void,
): Promise<Identity> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)));
  let value: unknown;
  try {
    value = await Promise.race([Promise.resolve().then(hook), timeout]);
  } catch (err) {
    // A registry error (e.g. 132 JWT_EXPIRED from switchyardjs/jwt) is a verdict, not a bug: it is
    // named in the reply so the client can tell why; anything else is logged and stays opaque.
    if (err instanceof SwitchyardError)
      throw new SwitchyardError('TOKEN_REJECTED', `[REF-3] the new token was not accepted (${err.code} ${err.reason})`);
    onError(err);
    throw new SwitchyardError('TOKEN_REJECTED', '[REF-3] the new token was not accepted');
  } finally {
    clearTimeout(timer);
  }
  if (value === TIMED_OUT)
    throw new SwitchyardError('TOKEN_REJECTED', '[REF-3] authentication of the new token timed out');
  if (value === null || value === undefined || value === false)
    throw new SwitchyardError('TOKEN_REJECTED', '[REF-3] the new token was not accepted');
  return identityOf(value);
}

/** Server-side channels on the wire: `[{ch, qos}]` ([SSUB-1]). */
export function serverChannelsWire(channels: ReadonlyMap<string, QoS> | undefined): Array<{ ch: string; qos: QoS }> {
  const out: Array<{ ch: string; qos: QoS }> = [];
  if (channels) for (const [ch, qos] of channels) out.push({ ch, qos });
  return out;
}
