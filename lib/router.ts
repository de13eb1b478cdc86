/**
 * Channel router: exact channels in a hash map; patterns as one entry per distinct pattern,
 * indexed by segment count and their first two segments. Matching a channel looks up a few
 * index buckets and verifies each candidate with one left-to-right scan of the two strings, so
 * its cost is bounded by the number of distinct patterns (capped hub-wide by
 * `limits.maxPatternsPerHub`) times the name length, whatever clients subscribe; a pattern costs
 * one small entry that shares its string with the subscription (no node per segment), and no
 * user input is ever compiled into a regex.
 * @module
 */

/** One distinct pattern and the subscriptions to it. */
interface PatternEntry<T> {
  readonly pattern: string;
  readonly key: string;
  readonly subs: Set<T>;
}

const STAR = 42; // '*'
const GT = 62; // '>'
const DOT = 46; // '.'

/** Segment count of a name (dots + 1), without splitting it. */
function segmentCount(name: string): number {
  let n = 1;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === DOT) n++;
  return n;
}

/** The first two segments of a name (the second is '' for a one-segment name). */
function firstTwo(name: string): [string, string] {
  const a = name.indexOf('.');
  if (a === -1) return [name, ''];
  const b = name.indexOf('.', a + 1);
  return [name.slice(0, a), b === -1 ? name.slice(a + 1) : name.slice(a + 1, b)];
}

/**
 * Index key of a pattern: `>` patterns by their prefix length, others by segment count, then
 * the first two segments (`*` stays `*`, `>` counts as nothing). A channel looks up at most four
 * keys per length it could match.
 */
function patternKey(pattern: string): string {
  const rest = pattern.charCodeAt(pattern.length - 1) === GT;
  const n = segmentCount(pattern) - (rest ? 1 : 0);
  let [a, b] = firstTwo(pattern);
  if (rest && n < 2) b = '';
  if (rest && n < 1) a = '';
  return (rest ? 'r' : 'e') + n + '.' + a + '.' + b;
}

/** Whether channel `c` matches pattern `p` (validated names): one scan, no allocation. */
function matches(p: string, c: string): boolean {
  let i = 0;
  let j = 0;
  const pl = p.length;
  const cl = c.length;
  while (i < pl) {
    const pc = p.charCodeAt(i);
    if (pc === GT) return j < cl; // at least one more segment
    if (pc === STAR) {
      if (j >= cl) return false;
      while (j < cl && c.charCodeAt(j) !== DOT) j++;
      i++;
      continue;
    }
    if (j >= cl || c.charCodeAt(j) !== pc) return false;
    i++;
    j++;
  }
  return j === cl;
}

/** Routes channel names to the subscriptions (exact or pattern) that match them. */
export class Router<T> {
  private readonly exact = new Map<string, Set<T>>();
  private readonly patterns = new Map<string, PatternEntry<T>>();
  private readonly buckets = new Map<string, Array<PatternEntry<T>>>();
  /** Prefix lengths of `>` patterns in use, and segment counts of the others, so a match looks up only lengths that exist. */
  private readonly restLengths = new Map<number, number>();
  private readonly exactLengths = new Map<number, number>();
  private subscriptions = 0;

  /** Adds `value` under an exact channel or a pattern. */
  add(channel: string, pattern: boolean, value: T): void {
    if (!pattern) {
      let set = this.exact.get(channel);
      if (!set) this.exact.set(channel, (set = new Set()));
      set.add(value);
      return;
    }
    let entry = this.patterns.get(channel);
    if (!entry) {
      entry = { pattern: channel, key: patternKey(channel), subs: new Set() };
      this.patterns.set(channel, entry);
      let bucket = this.buckets.get(entry.key);
      if (!bucket) this.buckets.set(entry.key, (bucket = []));
      bucket.push(entry);
      const lengths = entry.key[0] === 'r' ? this.restLengths : this.exactLengths;
      const n = parseInt(entry.key.slice(1), 10);
      lengths.set(n, (lengths.get(n) ?? 0) + 1);
    }
    if (!entry.subs.has(value)) {
      entry.subs.add(value);
      this.subscriptions++;
    }
  }

  /** Removes `value`; a pattern nobody subscribes to any more is forgotten, so memory follows live subscriptions. */
  remove(channel: string, pattern: boolean, value: T): void {
    if (!pattern) {
      const set = this.exact.get(channel);
      if (set?.delete(value) && set.size === 0) this.exact.delete(channel);
      return;
    }
    const entry = this.patterns.get(channel);
    if (!entry?.subs.delete(value)) return;
    this.subscriptions--;
    if (entry.subs.size > 0) return;
    this.patterns.delete(channel);
    const bucket = this.buckets.get(entry.key)!;
    bucket.splice(bucket.indexOf(entry), 1);
    if (bucket.length === 0) this.buckets.delete(entry.key);
    const lengths = entry.key[0] === 'r' ? this.restLengths : this.exactLengths;
    const n = parseInt(entry.key.slice(1), 10);
    const left = lengths.get(n)! - 1;
    if (left === 0) lengths.delete(n);
    else lengths.set(n, left);
  }

  /** Subscribers of exactly this channel name (no patterns); cheap, for counts and lookups. */
  exactSubscribers(channel: string): ReadonlySet<T> | undefined {
    return this.exact.get(channel);
  }

  /** Whether some subscription uses exactly this pattern already. */
  hasPattern(pattern: string): boolean {
    return this.patterns.has(pattern);
  }

  /** Calls `fn` once per subscription matching `channel`. */
  match(channel: string, fn: (value: T) => void): void {
    const set = this.exact.get(channel);
    if (set) for (const v of set) fn(v);
    if (this.patterns.size === 0) return;
    const n = segmentCount(channel);
    const [a, b] = firstTwo(channel);
    if (this.exactLengths.has(n)) this.scan('e' + n, a, b, n, channel, fn);
    // `>` needs at least one segment after its prefix: prefixes of 0..n-1 segments.
    for (const k of this.restLengths.keys())
      if (k < n) this.scan('r' + k, k >= 1 ? a : '', k >= 2 ? b : '', k, channel, fn);
  }

  private scan(prefix: string, a: string, b: string, k: number, channel: string, fn: (value: T) => void): void {
    const keys =
      k === 0
        ? [prefix + '..']
        : k === 1
          ? [prefix + '.' + a + '.', prefix + '.*.']
          : [prefix + '.' + a + '.' + b, prefix + '.' + a + '.*', prefix + '.*.' + b, prefix + '.*.*'];
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      if (!bucket) continue;
      for (const e of bucket) if (matches(e.pattern, channel)) for (const v of e.subs) fn(v);
    }
  }

  /** Exact channel names that currently have subscribers. */
  channels(): IterableIterator<string> {
    return this.exact.keys();
  }

  /** Number of pattern subscriptions. */
  get patternCount(): number {
    return this.subscriptions;
  }

  /** Number of exact channels with subscribers. */
  get channelCount(): number {
    return this.exact.size;
  }

  /** Number of distinct patterns subscribed (what `limits.maxPatternsPerHub` caps). */
  get distinctPatterns(): number {
    return this.patterns.size;
  }
}
