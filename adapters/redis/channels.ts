/**
 * Names of the pub/sub channels of the Redis engine. On one Redis (or Sentinel) they are plain
 * channels; on a cluster they are sharded channels whose hash tag puts each in the slot of the
 * keys it belongs to, so it travels only inside that shard.
 * @module
 */

/** Messages of `channel`: `<prefix>m:<channel>`, or on a cluster `<prefix>{<channel>}:b`. */
export function busChannel(prefix: string, channel: string, sharded: boolean): string {
  return sharded ? `${prefix}{${channel}}:b` : `${prefix}m:${channel}`;
}

/** Presence events of `channel`: `<prefix>p:<channel>`, or on a cluster `<prefix>{<channel>}:e`. */
export function presenceChannel(prefix: string, channel: string, sharded: boolean): string {
  return sharded ? `${prefix}{${channel}}:e` : `${prefix}p:${channel}`;
}

/**
 * Cluster only: the sharded feed that pattern subscribers listen on. Every message of a channel
 * is also published to the feed of its first segment (`chat.room1` → `<prefix>{chat}:f`), so a
 * pattern with a literal first segment (`chat.*`, `chat.>`) needs one SSUBSCRIBE.
 */
export function feedChannel(prefix: string, channel: string): string {
  const dot = channel.indexOf('.');
  return `${prefix}{${dot < 0 ? channel : channel.slice(0, dot)}}:f`;
}

/** The switchyard channel a bus or presence channel name belongs to (inverse of the functions above). */
export function channelOf(prefix: string, name: string, sharded: boolean): string {
  return sharded ? name.slice(prefix.length + 1, -3) : name.slice(prefix.length + 2);
}
