/**
 * Lua scripts of the Redis storage. Each runs atomically on the Redis server, so offsets, the
 * epoch, trimming, the idempotency key and the cross-node publish of one append are one step:
 * bus order equals offset order, and no two nodes can ever be handed the same offset.
 *
 * Keys of a channel share the hash tag `{channel}` so a script only touches one slot (one
 * shard of a Redis Cluster), and so does the sharded pub/sub channel it publishes on.
 *   meta (hash)  e = epoch, o = last offset, t = ttl ms (for age trimming on reads),
 *                r = run_id of the Redis server that created the stream ('' if not checked),
 *                x = server ms when the keys' expiry was last pushed back (0: never appended)
 *   log  (list)  "<ms>|<payload>", oldest first; offsets are implicit: the last is `o`
 *   idem (string) "<offset>:<epoch>" with PX = de-duplication window
 *
 * An append in steady state is 8 commands: EVALSHA, TIME, HMGET, HINCRBY, RPUSH, LTRIM,
 * LINDEX and the (S)PUBLISH. The restart check compares `r` with the run ids the engine read
 * once per connection (argument `trusted`), so no INFO runs on the hot path; INFO runs only
 * when a stream is (re)created, to stamp it with the run id of the server that really holds it,
 * and when its stamp is not trusted, to tell a stale caller from a stream of another server.
 * The keys' expiry is pushed back only when an eighth of it has passed, not on every append.
 * @module
 */
import { createHash } from 'node:crypto';

// Shared prelude. ARGV of both scripts starts with: candidate epoch, trusted run ids
// (" id1 id2 " or "*" = do not check), idle ms.
const PRELUDE = `
local meta, log = KEYS[1], KEYS[2]
local cand, trusted, idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local m = redis.call('HMGET', meta, 'e', 'r', 't', 'x', 'o')
local epoch = m[1]
-- Streams written before this Redis server started may have lost their newest writes
-- (snapshot or everysec AOF restored, replica promoted): reusing their offsets under the old
-- epoch would make clients skip new messages as duplicates. Start them over instead.
if epoch and trusted ~= '*' and not string.find(trusted, ' ' .. (m[2] or '') .. ' ', 1, true) then
  -- Only if this server is one the caller trusts: a sentinel client can run a command on a
  -- newly promoted primary with run ids read from the old one, and would otherwise start over
  -- a stream this very server holds, throwing its messages away. Then nothing is written: the
  -- caller reads the run ids again and retries. (INFO runs only on this rare path.)
  local own = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
  if not string.find(trusted, ' ' .. own .. ' ', 1, true) then return redis.error_reply('STALERUNIDS the run ids the command carries are not this server') end
  epoch = false
end
-- (Re)creates the stream: whatever is left of its log is dropped, it starts over at offset 0.
local function create(ttl, keepMs)
  local run = ''
  if trusted ~= '*' then run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') end
  redis.call('DEL', log)
  epoch = cand
  redis.call('HSET', meta, 'e', epoch, 'o', 0, 'r', run, 't', ttl, 'x', 0)
  redis.call('PEXPIRE', meta, keepMs)
  m[2], m[3], m[4], m[5] = run, ttl, 0, 0
end
local function trim(ttl)
  if not ttl or ttl <= 0 then return end
  local cutoff = now - ttl
  while true do
    local head = redis.call('LINDEX', log, 0)
    if not head then return end
    local sep = string.find(head, '|', 1, true)
    if tonumber(string.sub(head, 1, sep - 1)) > cutoff then return end
    redis.call('LPOP', log)
  end
end
-- Keeps the keys of a stream with messages for max(ttl, idle) plus up to an eighth, pushing
-- the expiry back only once an eighth of it has passed (two PEXPIREs per ~1/8 period, not per call).
local function keep(ttl, force)
  local ms = idle
  if ttl and ttl > ms then ms = ttl end
  local slack = math.floor(ms / 8)
  if force or now - (tonumber(m[4]) or 0) > slack then
    redis.call('PEXPIRE', meta, ms + slack)
    redis.call('PEXPIRE', log, ms + slack)
    redis.call('HSET', meta, 'x', now)
  end
end
`;

/**
 * KEYS: meta, log, idem. ARGV: candidate epoch, trusted run ids, idle ms, payload, size, ttl,
 * dedup window ms, use-idem flag ('1'/'0'), pub/sub channel, publish command (PUBLISH or
 * SPUBLISH). Returns {offset, epoch, duplicate 0/1, run id stamped on the stream}.
 */
export const APPEND = `${PRELUDE}
local payload, size, ttl = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
if not epoch then create(ttl, idle) end
local useIdem = ARGV[8] == '1'
if useIdem then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local sep = string.find(seen, ':', 1, true)
    if string.sub(seen, sep + 1) == epoch then return {tonumber(string.sub(seen, 1, sep - 1)), epoch, 1, m[2]} end
  end
end
local offset = redis.call('HINCRBY', meta, 'o', 1)
local ttlChanged = tonumber(m[3]) ~= ttl
if ttlChanged then redis.call('HSET', meta, 't', ttl) end
local fresh = false
if size > 0 then
  local len = redis.call('RPUSH', log, now .. '|' .. payload)
  fresh = len == 1
  if len > size then redis.call('LTRIM', log, -size, -1) end
  trim(ttl)
else
  redis.call('DEL', log)
end
if useIdem then redis.call('SET', KEYS[3], offset .. ':' .. epoch, 'PX', ARGV[7]) end
keep(ttl, fresh or ttlChanged)
redis.call(ARGV[10], ARGV[9], offset .. ':' .. epoch .. ':' .. payload)
return {offset, epoch, 0, m[2]}
`;

/**
 * KEYS: meta, log. ARGV: candidate epoch, trusted run ids, idle ms, after, limit (0 = state
 * only), empty-stream ttl ms. Returns {offset, epoch, earliest, entries, run id stamped on the stream}.
 *
 * Reading a stream that does not exist stores only its epoch, kept `empty-stream ttl` ms
 * (pushed back by later reads): reads alone never make Redis hold a channel for the idle ttl.
 */
export const READ = `${PRELUDE}
local after, limit, emptyMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if not epoch then
  create(0, emptyMs)
  return {0, epoch, 1, {}, m[2]}
end
local offset = tonumber(m[5])
if offset == 0 then
  redis.call('PEXPIRE', meta, emptyMs)
  return {0, epoch, 1, {}, m[2]}
end
local ttl = tonumber(m[3])
trim(ttl)
local len = redis.call('LLEN', log)
local earliest = offset - len + 1
local entries = {}
if limit > 0 and len > 0 then
  local first = after + 1 - earliest
  if first < 0 then first = 0 end
  if first < len then entries = redis.call('LRANGE', log, first, first + limit - 1) end
end
keep(ttl, false)
return {offset, epoch, earliest, entries, m[2]}
`;

/** A script with its SHA1, run by EVALSHA with an EVAL fallback (scripts vanish on restart). */
export interface Script {
  source: string;
  sha: string;
}

export const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/** Runs `s` by EVALSHA, sending its source once when Redis does not have it cached. */
export async function runScript(
  conn: { run(args: string[]): Promise<unknown> },
  s: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await conn.run(['EVALSHA', s.sha, ...tail]);
  } catch (err) {
    // Script caches are empty after a restart or failover: send the source once.
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return conn.run(['EVAL', s.source, ...tail]);
    throw err;
  }
}
