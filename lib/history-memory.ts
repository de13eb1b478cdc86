/**
 * The embedded default storage: per-channel ring buffers bounded by count and age, the number
 * of channels bounded by an LRU, idempotency keys in a TTL cache. Ages use `performance.now()`
 * (monotonic, replaceable with the `now` option), so a wall-clock jump neither expires nor resurrects messages.
 * @module
 */
import { LRUCache } from 'lru-cache';
import { optionError } from './errors.js';
import type { AppendOptions, AppendResult, ReadResult, Storage, StoredMessage, StreamState } from './engine.js';
import { newEpoch } from './epoch.js';
import { isIntIn } from './integers.js';

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Most channels whose streams are kept (default 10,000). The least recently used stream is
   * evicted beyond that; when its channel is used again it starts over with a new epoch, so
   * subscribers resuming from the old stream get `recovered: false`, never a silent gap.
   * Reads (subscribe, history) of channels never published to create no stream and evict none:
   * their epochs are kept in a separate LRU of the same size.
   */
  maxChannels?: number;
  /** De-duplication window for idempotency keys in ms (default 120,000). */
  dedupWindow?: number;
  /** Most idempotency keys remembered (default 100,000); the oldest are forgotten first. */
  maxIdempotencyKeys?: number;
  /**
   * Monotonic clock in milliseconds used for message ages and the de-duplication window
   * (default `performance.now`). Tests inject one to expire messages without waiting; never
   * pass `Date.now`, whose jumps would expire or resurrect messages. Not a function: error 150.
   */
  now?: () => number;
}

interface Entry extends StoredMessage {
  time: number;
}

class Stream {
  constructor(readonly epoch: string = newEpoch()) {}
  offset = 0;
  // Ring buffer: `start` indexes the oldest retained entry, `count` entries follow it.
  buf: Array<Entry | undefined> = [];
  start = 0;
  count = 0;

  trim(size: number, ttl: number, now: number): void {
    while (this.count > size) this.dropOldest();
    while (this.count > 0 && now - this.buf[this.start]!.time >= ttl) this.dropOldest();
  }

  private dropOldest(): void {
    this.buf[this.start] = undefined;
    this.start = (this.start + 1) % this.buf.length;
    this.count--;
  }

  push(entry: Entry, size: number): void {
    if (size === 0) return;
    if (this.buf.length !== size) this.resize(size);
    if (this.count === size) {
      this.buf[this.start] = entry;
      this.start = (this.start + 1) % size;
    } else {
      this.buf[(this.start + this.count) % size] = entry;
      this.count++;
    }
  }

  private resize(size: number): void {
    const kept: Entry[] = [];
    for (let i = Math.max(0, this.count - size); i < this.count; i++)
      kept.push(this.buf[(this.start + i) % this.buf.length]!);
    this.buf = new Array(size);
    for (let i = 0; i < kept.length; i++) this.buf[i] = kept[i];
    this.start = 0;
    this.count = kept.length;
  }

  state(): StreamState {
    const earliest = this.count ? this.buf[this.start]!.offset : this.offset + 1;
    return { offset: this.offset, epoch: this.epoch, earliest };
  }

  read(after: number, limit: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    if (this.count === 0 || limit <= 0) return out;
    const first = this.buf[this.start]!.offset;
    // Offsets in the buffer are contiguous, so the index of `after + 1` is computed, not searched.
    let i = Math.max(0, after + 1 - first);
    for (; i < this.count && out.length < limit; i++) {
      const e = this.buf[(this.start + i) % this.buf.length]!;
      out.push({ offset: e.offset, payload: e.payload });
    }
    return out;
  }
}

/** In-memory {@link Storage}. One instance per hub; not shared between processes. */
export class MemoryStorage implements Storage {
  private readonly streams: LRUCache<string, Stream>;
  private readonly keys: LRUCache<string, AppendResult>;
  /** Epochs handed out for channels read but never appended to; bounded like `streams`, apart from it. */
  private readonly unpublished: LRUCache<string, string>;
  // Retention last used per channel, so reads trim by age with the channel's own TTL.
  private readonly ttls = new Map<Stream, { size: number; ttl: number }>();
  private readonly now: () => number;

  constructor(options: MemoryStorageOptions = {}) {
    const { maxChannels = 10_000, dedupWindow = 120_000, maxIdempotencyKeys = 100_000, now } = options;
    if (!isIntIn(maxChannels, 1)) throw optionError('maxChannels', 'a positive integer', maxChannels);
    if (!isIntIn(dedupWindow, 1)) throw optionError('dedupWindow', 'a positive number of milliseconds', dedupWindow);
    if (!isIntIn(maxIdempotencyKeys, 1))
      throw optionError('maxIdempotencyKeys', 'a positive integer', maxIdempotencyKeys);
    if (now !== undefined && typeof now !== 'function')
      throw optionError('now', 'a function returning monotonic milliseconds, like performance.now', now);
    this.now = now ?? (() => performance.now());
    this.streams = new LRUCache({ max: maxChannels, dispose: (s) => this.ttls.delete(s) });
    this.unpublished = new LRUCache({ max: maxChannels });
    // An injected clock may jump within one tick, so the LRU must not cache its reading.
    this.keys = new LRUCache({
      max: maxIdempotencyKeys,
      ttl: dedupWindow,
      ttlAutopurge: false,
      ...(now ? { perf: { now }, ttlResolution: 0 } : {}),
    });
  }

  /** A stream to append to: created on first append, with the epoch its readers were already told. */
  private stream(channel: string): Stream {
    let s = this.streams.get(channel);
    if (!s) {
      this.streams.set(channel, (s = new Stream(this.unpublished.get(channel))));
      this.unpublished.delete(channel);
    }
    return s;
  }

  /**
   * The stream a read sees. A read never creates a stream, so reading names that were never
   * published can neither grow the store nor evict real streams from the LRU: an absent stream
   * is an empty state whose epoch is remembered in a separate bounded LRU, so a subscriber of a
   * channel nobody published to yet keeps its epoch when the first message arrives.
   */
  private peekStream(channel: string): Stream {
    const s = this.streams.get(channel);
    if (s) return s;
    let epoch = this.unpublished.get(channel);
    if (epoch === undefined) this.unpublished.set(channel, (epoch = newEpoch()));
    return new Stream(epoch);
  }

  async append(channel: string, payload: string, options: AppendOptions): Promise<AppendResult> {
    return this.appendSync(channel, payload, options);
  }

  /** Synchronous append, for callers that already hold the event loop (and the memory broker). */
  appendSync(channel: string, payload: string, options: AppendOptions): AppendResult {
    const key = options.idempotencyKey === undefined ? undefined : channel + '\u0000' + options.idempotencyKey;
    if (key !== undefined) {
      const seen = this.keys.get(key);
      // A key remembered from a stream that was since evicted must not point into the new one.
      if (seen && this.streams.peek(channel)?.epoch === seen.epoch) return { ...seen, duplicate: true };
    }
    const s = this.stream(channel);
    const now = this.now();
    const offset = ++s.offset;
    s.push({ offset, payload, time: now }, options.size);
    this.ttls.set(s, { size: options.size, ttl: options.ttl });
    s.trim(options.size, options.ttl, now);
    const result = { offset, epoch: s.epoch, duplicate: false };
    if (key !== undefined) this.keys.set(key, result);
    return result;
  }

  async read(channel: string, after: number, limit: number): Promise<ReadResult> {
    const s = this.peekStream(channel);
    this.expire(s);
    return { messages: s.read(after, limit), state: s.state() };
  }

  async state(channel: string): Promise<StreamState> {
    const s = this.peekStream(channel);
    this.expire(s);
    return s.state();
  }

  private expire(s: Stream): void {
    const r = this.ttls.get(s);
    if (r) s.trim(r.size, r.ttl, this.now());
  }

  /** Forgets a channel's stream, as an eviction would; its next use starts with a new epoch. */
  evict(channel: string): void {
    this.streams.delete(channel);
    this.unpublished.delete(channel);
  }

  /** Number of channel streams held. */
  get size(): number {
    return this.streams.size;
  }

  async close(): Promise<void> {
    this.streams.clear();
    this.unpublished.clear();
    this.keys.clear();
  }
}
