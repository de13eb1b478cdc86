/**
 * What `authenticate` (or `refresh`) may return besides a bare user: the user together with the
 * moment its credentials expire and the channels the server subscribes the connection to.
 * A branded class, so an application's own user object is never mistaken for a grant.
 * @module
 */
import { checkChannel } from './channel-name.js';
import { optionError } from './errors.js';
import type { QoS } from './protocol.js';

/** A channel the server subscribes a connection to (docs/identity.md). */
export interface ServerChannel {
  /** Exact channel name, e.g. `user.42`. */
  channel: string;
  /** Delivery QoS (default 0); QoS 1 needs the channel to keep history. */
  qos?: QoS;
}

/** Options of {@link grant}. */
export interface GrantOptions {
  /**
   * When the credentials expire, in milliseconds since the epoch (`Date.now()` scale; a JWT's
   * `exp * 1000`). Before it the server asks the client for a fresh token; a connection that has
   * not refreshed by then is closed with 3010 TOKEN_EXPIRED. Default: never expires.
   */
  expiresAt?: number;
  /**
   * Channels the server subscribes this connection to, as names or `{channel, qos}`. Default none.
   * They are announced in `welcome`, subscribed and recovered by the SDK like its own
   * subscriptions, and need no `authorize` approval (the server granted them).
   */
  channels?: Array<string | ServerChannel>;
}

/** The result of {@link grant}; return it from `authenticate` or `refresh`. */
export class AuthGrant<User = unknown> {
  /** @internal */
  constructor(
    readonly user: User,
    readonly expiresAt: number | undefined,
    readonly channels: ReadonlyMap<string, QoS> | undefined,
  ) {}
}

/** Most server-side channels one grant may name. */
export const MAX_SERVER_CHANNELS = 128;

/**
 * Wraps the user an `authenticate` or `refresh` hook accepted with its expiry and server-side
 * channels: `return grant(user, { expiresAt: claims.exp * 1000, channels: ['user.42'] })`.
 * @throws SwitchyardError (150) naming the bad option: `user` null/undefined/false, `expiresAt`
 * not a finite number, a channel that is not an exact valid name or a `qos` other than 0 or 1,
 * more than 128 channels.
 */
export function grant<User>(user: User, options: GrantOptions = {}): AuthGrant<User> {
  if (user === null || user === undefined || (user as unknown) === false)
    throw optionError('grant user', 'the accepted user (not null, undefined or false)', user);
  if (typeof options !== 'object' || options === null)
    throw optionError('grant options', 'an object {expiresAt?, channels?}', options);
  const { expiresAt, channels } = options;
  if (expiresAt !== undefined && !(typeof expiresAt === 'number' && Number.isFinite(expiresAt))) {
    throw optionError('expiresAt', 'milliseconds since the epoch (e.g. Date.now() + 3_600_000)', expiresAt);
  }
  let map: Map<string, QoS> | undefined;
  if (channels !== undefined) {
    if (!Array.isArray(channels) || channels.length > MAX_SERVER_CHANNELS)
      throw optionError(
        'channels',
        `an array of at most ${MAX_SERVER_CHANNELS} channel names or {channel, qos}`,
        channels,
      );
    map = new Map();
    for (const c of channels) {
      const name = typeof c === 'string' ? c : c?.channel;
      const qos = typeof c === 'string' ? 0 : (c?.qos ?? 0);
      const err = checkChannel(name, false);
      if (err) throw optionError('channels[]', `an exact channel name (${err})`, c);
      if (qos !== 0 && qos !== 1) throw optionError(`channels[${name}].qos`, '0 or 1', qos);
      map.set(name, qos);
    }
  }
  return new AuthGrant(user, expiresAt, map);
}

/** A hook's accepted result, split into its parts. */
export interface Identity {
  user: unknown;
  expiresAt: number | undefined;
  channels: ReadonlyMap<string, QoS> | undefined;
  /** The upgrade request's url and address, kept for re-running `authenticate` at refresh. */
  request?: { url: string; remoteAddress?: string };
}

/** Splits what a hook returned into user, expiry and server-side channels. */
export function identityOf(value: unknown): Identity {
  if (value instanceof AuthGrant) return { user: value.user, expiresAt: value.expiresAt, channels: value.channels };
  return { user: value, expiresAt: undefined, channels: undefined };
}
