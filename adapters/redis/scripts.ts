/**
 * Lua scripts of the Redis storage. Each runs atomically on the Redis server, so offsets, the
 * epoch, trimming, the idempotency key and the cross-node PUBLISH of one append are one step:
 * bus order equals offset order, and no two nodes can ever be handed the same offset.
 *
 * Keys of a channel share the hash tag `{channel}` so a script only touches one slot.
 *   meta (hash)  e = epoch, o = last offset, t = ttl ms (for age trimming on reads),
 *                r = run_id of the Redis server that created the stream ('' if not checked)
 *   log  (list)  "<ms>|<payload>", oldest first; offsets are implicit: the last is `o`
 *   idem (string) "<offset>:<epoch>" with PX = de-duplication window
 * @module
 */
import { createHash } from 'node:crypto';

// Shared prelude: server time in ms, (re)creating a stream whose keys vanished, age trimming.
const PRELUDE = `
local meta, log = KEYS[1], KEYS[2]
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local function open(cand, strict)
  local epoch = redis.call('HGET', meta, 'e')
  local run = ''
  if strict == '1' then
    -- Streams written before this Redis server started may have lost their newest writes
    -- (snapshot or everysec AOF restored, replica promoted): reusing their offsets under the
    -- old epoch would make clients skip new messages as duplicates. Start them over instead.
    run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
    if epoch and redis.call('HGET', meta, 'r') ~= run then epoch = nil end
  end
  if epoch then return epoch end
  -- The stream's keys are gone (restart without persistence, eviction, idle expiry) or not
  -- trusted: whatever is left of its log is dropped, and it starts over with a new epoch.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'e', cand, 'o', 0, 'r', run)
  return cand
end
local function trim(ttl)
  if not ttl then return end
  local cutoff = now - ttl
  while true do
    local head = redis.call('LINDEX', log, 0)
    if not head then return end
    local sep = string.find(head, '|', 1, true)
    if tonumber(string.sub(head, 1, sep - 1)) > cutoff then return end
    redis.call('LPOP', log)
  end
end
local function keep(ttl, idle)
  local ms = idle
  if ttl and ttl > ms then ms = ttl end
  redis.call('PEXPIRE', meta, ms)
  redis.call('PEXPIRE', log, ms)
end
`;

/**
 * KEYS: meta, log, idem. ARGV: payload, size, ttl, candidate epoch, dedup window ms,
 * use-idem flag ('1'/'0'), pub/sub channel, idle ms, restart-is-data-loss flag ('1'/'0').
 * Returns {offset, epoch, duplicate 0/1}.
 */
export const APPEND = `${PRELUDE}
local payload, size, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch = open(ARGV[4], ARGV[9])
local useIdem = ARGV[6] == '1'
if useIdem then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local sep = string.find(seen, ':', 1, true)
    if string.sub(seen, sep + 1) == epoch then return {tonumber(string.sub(seen, 1, sep - 1)), epoch, 1} end
  end
end
local offset = redis.call('HINCRBY', meta, 'o', 1)
redis.call('HSET', meta, 't', ttl)
if size > 0 then
  redis.call('RPUSH', log, now .. '|' .. payload)
  redis.call('LTRIM', log, -size, -1)
else
  redis.call('DEL', log)
end
trim(ttl)
if useIdem then redis.call('SET', KEYS[3], offset .. ':' .. epoch, 'PX', ARGV[5]) end
keep(ttl, tonumber(ARGV[8]))
redis.call('PUBLISH', ARGV[7], offset .. ':' .. epoch .. ':' .. payload)
return {offset, epoch, 0}
`;

/**
 * KEYS: meta, log. ARGV: after, limit (0 = state only), candidate epoch, idle ms,
 * restart-is-data-loss flag. Returns {offset, epoch, earliest, entries}.
 */
export const READ = `${PRELUDE}
local after, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local epoch = open(ARGV[3], ARGV[5])
local ttl = tonumber(redis.call('HGET', meta, 't'))
trim(ttl)
local offset = tonumber(redis.call('HGET', meta, 'o'))
local len = redis.call('LLEN', log)
local earliest = offset - len + 1
local entries = {}
if limit > 0 and len > 0 then
  local first = after + 1 - earliest
  if first < 0 then first = 0 end
  if first < len then entries = redis.call('LRANGE', log, first, first + limit - 1) end
end
keep(ttl, tonumber(ARGV[4]))
return {offset, epoch, earliest, entries}
`;

/** A script with its SHA1, run by EVALSHA with an EVAL fallback (scripts vanish on restart). */
export interface Script {
  source: string;
  sha: string;
}

export const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/** Runs `s` by EVALSHA, sending its source once when Redis does not have it cached. */
export async function runScript(conn: { run(args: string[]): Promise<unknown> }, s: Script, keys: string[], args: string[]): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await conn.run(['EVALSHA', s.sha, ...tail]);
  } catch (err) {
    // Script caches are empty after a restart or failover: send the source once.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return conn.run(['EVAL', s.source, ...tail]);
    throw err;
  }
}
