/**
 * Lua scripts of the Redis storage. Each runs atomically on the Redis server, so offsets, the
 * epoch, trimming, the idempotency key and the cross-node publish of one append are one step:
 * bus order equals offset order, and no two nodes can ever be handed the same offset.
 *
 * Keys of a channel share the hash tag `{channel}` so a script only touches one slot (one
 * shard of a Redis Cluster), and so does the sharded pub/sub channel it publishes on.
 *   meta (hash)  e = epoch, o = last offset, t = ttl ms (for age trimming on reads),
 *                r = run_id of the Redis server that created the stream ('' if not checked),
 *                x = server ms when the keys' expiry was last pushed back (0: never appended),
 *                h = server ms no later than the oldest entry's (so age trimming reads the head
 *                    only when something may have expired)
 *   log  (list)  "<ms>|<payload>", oldest first; offsets are implicit: the last is `o`
 *   idem (string) "<offset>:<epoch>" with PX = de-duplication window
 *
 * Appends are group-committed: the appends a node issues in one event-loop turn travel in one
 * script call (see {@link appendScript}), which shares the cost of entering a script, the clock
 * read and the shared arguments among them. Per message in steady state the script runs HMGET
 * (once per channel in the batch), HINCRBY, RPUSH, LTRIM (once the history is full) and the
 * (S)PUBLISH; per call, EVALSHA and TIME. The restart check compares `r` with the run ids the
 * engine read once per connection (argument `trusted`), so no INFO runs on the hot path; INFO
 * runs only when a stream is (re)created, to stamp it with the run id of the server that really
 * holds it, and when its stamp is not trusted, to tell a stale caller from a stream of another
 * server. The keys' expiry is pushed back only when an eighth of it has passed, not on every append.
 * @module
 */
import { createHash } from 'node:crypto';

// Age trim of a stream's log, shared by both scripts (it needs `now` in scope). m[6] (h) is a
// lower bound of the oldest entry's time (trims only remove the oldest), so while it is younger
// than the cutoff nothing can have expired and the head is not read.
const AGE_TRIM = `
local function ageTrim(meta, log, m, ttl)
  if not ttl or ttl <= 0 or (tonumber(m[6]) or 0) > now - ttl then return end
  local cutoff, h = now - ttl, now
  while true do
    local head = redis.call('LINDEX', log, 0)
    if not head then break end
    local t = tonumber(string.sub(head, 1, string.find(head, '|', 1, true) - 1))
    if t > cutoff then h = t break end
    redis.call('LPOP', log)
  end
  redis.call('HSET', meta, 'h', h)
  m[6] = h
end
`;

// The read script's prelude. ARGV starts with: candidate epoch, trusted run ids
// (" id1 id2 " or "*" = do not check), idle ms. (The append script has the same rules, for a batch.)
const PRELUDE = `
local meta, log = KEYS[1], KEYS[2]
local cand, trusted, idle = ARGV[1], ARGV[2], tonumber(ARGV[3])
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local m = redis.call('HMGET', meta, 'e', 'r', 't', 'x', 'o', 'h')
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
  redis.call('HSET', meta, 'e', epoch, 'o', 0, 'r', run, 't', ttl, 'x', 0, 'h', now)
  redis.call('PEXPIRE', meta, keepMs)
  m[2], m[3], m[4], m[5], m[6] = run, ttl, 0, 0, now
end
${AGE_TRIM}
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

/** Engine settings an append script is built with (they are constants of one engine, so they are not sent per call). */
export interface AppendScriptSettings {
  /** Keys of a stream with messages live this long after its last append or read, ms. */
  idleMs: number;
  /** How long an idempotency key is remembered, ms. */
  dedupMs: number;
  /** `PUBLISH`, or `SPUBLISH` on a cluster. */
  publish: 'PUBLISH' | 'SPUBLISH';
}

/**
 * Appends a batch of messages (group commit: the appends one node issued in the same event-loop
 * turn) in one script call. Redis spends about as much on entering a script and converting its
 * arguments as on the commands inside it, so one call for n appends costs far less than n calls.
 * KEYS: per message meta, log, idem. ARGV: candidate epoch, trusted run ids, then per message
 * payload, size, ttl, use-idem flag ('1'/'0'), pub/sub channel.
 * Returns per message {offset, epoch, duplicate 0/1, run id stamped on the stream}, flattened.
 *
 * Every stream's run-id stamp is checked before anything is written, so a batch refused as
 * STALERUNIDS wrote nothing and can be retried whole. Messages are appended in batch order; two
 * messages of one channel in a batch get consecutive offsets, exactly as two calls would.
 */
export function appendScript(settings: AppendScriptSettings): string {
  const idle = Math.max(1, Math.ceil(settings.idleMs));
  const dedup = Math.max(1, Math.ceil(settings.dedupMs));
  return `
local cand, trusted = ARGV[1], ARGV[2]
local n = #KEYS / 3
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
${AGE_TRIM}local own
local function runId()
  if not own then own = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') end
  return own
end
-- Pass 1: every stream's state, read once per stream (m = e, r, t, x, o, h as in the module doc).
-- Streams written before this Redis server started may have lost their newest writes
-- (snapshot or everysec AOF restored, replica promoted): reusing their offsets under the old
-- epoch would make clients skip new messages as duplicates, so they start over. Unless this
-- server is not one the caller trusts: a sentinel client can run a command on a newly promoted
-- primary with run ids read from the old one, and would otherwise start over streams this very
-- server holds. Then nothing at all is written: the caller reads the run ids again and retries.
local streams = {}
for i = 1, #KEYS, 3 do
  local meta = KEYS[i]
  if not streams[meta] then
    local m = redis.call('HMGET', meta, 'e', 'r', 't', 'x', 'o', 'h')
    if m[1] and trusted ~= '*' and not string.find(trusted, ' ' .. (m[2] or '') .. ' ', 1, true) then
      if not string.find(trusted, ' ' .. runId() .. ' ', 1, true) then
        return redis.error_reply('STALERUNIDS the run ids the command carries are not this server')
      end
      m[1] = false
    end
    streams[meta] = m
  end
end
local created = 0
local out = {}
for i = 0, n - 1 do
  local meta, log, idem = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local a = 3 + 5 * i
  local payload, size, ttl = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local m = streams[meta]
  local fresh, force = false, false
  if not m[1] then
    -- (Re)creates the stream: whatever is left of its log is dropped, it starts over at offset 0.
    -- A second stream created in the same batch gets its own epoch.
    created = created + 1
    local epoch = cand
    if created > 1 then epoch = string.sub(cand, 1, 10) .. string.format('%02x', created % 256) end
    local run = ''
    if trusted ~= '*' then run = runId() end
    redis.call('DEL', log)
    redis.call('HSET', meta, 'e', epoch, 'o', 0, 'r', run, 't', ttl, 'x', 0, 'h', now)
    redis.call('PEXPIRE', meta, ${idle})
    m[1], m[2], m[3], m[4], m[5], m[6] = epoch, run, ttl, 0, 0, now
  end
  local epoch = m[1]
  local dup
  if ARGV[a + 3] == '1' then
    local seen = redis.call('GET', idem)
    if seen then
      local sep = string.find(seen, ':', 1, true)
      if string.sub(seen, sep + 1) == epoch then dup = tonumber(string.sub(seen, 1, sep - 1)) end
    end
  end
  if dup then
    out[#out + 1], out[#out + 2], out[#out + 3], out[#out + 4] = dup, epoch, 1, m[2]
  else
    local offset = redis.call('HINCRBY', meta, 'o', 1)
    m[5] = offset
    if tonumber(m[3]) ~= ttl then
      redis.call('HSET', meta, 't', ttl)
      m[3], force = ttl, true
    end
    if size > 0 then
      local len = redis.call('RPUSH', log, now .. '|' .. payload)
      if len == 1 then fresh = true end
      if len > size then redis.call('LTRIM', log, -size, -1) end
      ageTrim(meta, log, m, ttl)
    else
      redis.call('DEL', log)
    end
    if ARGV[a + 3] == '1' then redis.call('SET', idem, offset .. ':' .. epoch, 'PX', ${dedup}) end
    -- Keeps the keys for max(ttl, idle) plus up to an eighth, pushing the expiry back only once
    -- an eighth of it has passed (two PEXPIREs per ~1/8 period, not per append).
    local ms = ${idle}
    if ttl > ms then ms = ttl end
    local slack = math.floor(ms / 8)
    if fresh or force or now - (tonumber(m[4]) or 0) > slack then
      redis.call('PEXPIRE', meta, ms + slack)
      redis.call('PEXPIRE', log, ms + slack)
      redis.call('HSET', meta, 'x', now)
      m[4] = now
    end
    redis.call('${settings.publish}', ARGV[a + 4], offset .. ':' .. epoch .. ':' .. payload)
    out[#out + 1], out[#out + 2], out[#out + 3], out[#out + 4] = offset, epoch, 0, m[2]
  end
end
return out
`;
}

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
ageTrim(meta, log, m, ttl)
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
