/**
 * Revocation across a cluster: which local connections belong to a user, and the control
 * messages (`disconnect`, `unsubscribe`, `reauthorize`) that carry a revocation to every node.
 * Control messages travel on the engine's own broker, on a reserved channel no client can name
 * (`$` is not a channel character, [CH-1]), so a multi-node engine needs no extra code for them.
 * @module
 */
import type { BrokerMessage } from './engine.js';

/** The broker channel of control messages. Not a valid client channel name. */
export const CONTROL_CHANNEL = '$switchyard.control';

/** One control message; `n` is the sending node, which applied it locally already. */
export type ControlMessage =
  | { n: string; k: 'disconnect'; u?: string; c?: string; code: number; reason: string }
  | { n: string; k: 'unsubscribe'; u: string; ch: string }
  | { n: string; k: 'reauthorize'; u: string };

let sequence = 0;

/**
 * A control message as a broker message. It is never stored; offset and epoch still differ for
 * every message, because a broker may drop a message whose (channel, offset, epoch) repeats the
 * previous one as a duplicate delivery (the Redis broker does).
 */
export function controlMessage(m: ControlMessage): BrokerMessage {
  return { channel: CONTROL_CHANNEL, offset: ++sequence, epoch: 'ctl-' + m.n, payload: JSON.stringify(m) };
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

/** Parses a control payload; anything malformed is ignored (undefined). */
export function parseControl(payload: string): ControlMessage | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null || !str(m.n)) return undefined;
  if (m.k === 'disconnect' && (str(m.u) || str(m.c)) && Number.isInteger(m.code) && typeof m.reason === 'string')
    return m as ControlMessage;
  if (m.k === 'unsubscribe' && str(m.u) && str(m.ch)) return m as ControlMessage;
  if (m.k === 'reauthorize' && str(m.u)) return m as ControlMessage;
  return undefined;
}

/** The default `userId` option: a string or number user is its own id, else its `id` property. */
export function defaultUserId(user: unknown): string | number | undefined {
  if (typeof user === 'string' || typeof user === 'number') return user;
  if (typeof user === 'object' && user !== null) {
    const id = (user as { id?: unknown }).id;
    if (typeof id === 'string' || typeof id === 'number') return id;
  }
  return undefined;
}

/** Normalizes a user id for lookups ("42" and 42 name the same user). */
export function userKey(id: string | number | undefined): string | undefined {
  if (id === undefined) return undefined;
  const s = String(id);
  return s.length > 0 && s.length <= 1024 ? s : undefined;
}

/** Local connections by user id. */
export class UserIndex<C> {
  private readonly byUser = new Map<string, Set<C>>();

  add(user: string | undefined, conn: C): void {
    if (user === undefined) return;
    let set = this.byUser.get(user);
    if (!set) this.byUser.set(user, (set = new Set()));
    set.add(conn);
  }

  delete(user: string | undefined, conn: C): void {
    if (user === undefined) return;
    const set = this.byUser.get(user);
    if (!set) return;
    set.delete(conn);
    if (set.size === 0) this.byUser.delete(user);
  }

  /** A snapshot of `user`'s local connections. */
  get(user: string): C[] {
    const set = this.byUser.get(user);
    return set ? [...set] : [];
  }
}
