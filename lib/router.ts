/**
 * Channel router: exact channels in a hash map, patterns in a segment trie. Matching a channel
 * costs O(segments) map lookups (times the wildcard branches that actually exist), independent
 * of how many subscriptions there are, and never compiles user input into a regex.
 * @module
 */

interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  star?: TrieNode<T>;
  /** Subscriptions whose pattern ends here. */
  here: Set<T>;
  /** Subscriptions whose pattern ends here with a trailing `>`. */
  rest: Set<T>;
}

const node = <T>(): TrieNode<T> => ({ children: new Map(), here: new Set(), rest: new Set() });

/** Routes channel names to the subscriptions (exact or pattern) that match them. */
export class Router<T> {
  private readonly exact = new Map<string, Set<T>>();
  private readonly root: TrieNode<T> = node();
  private patterns = 0;

  /** Adds `value` under an exact channel or a pattern. */
  add(channel: string, pattern: boolean, value: T): void {
    if (!pattern) {
      let set = this.exact.get(channel);
      if (!set) this.exact.set(channel, (set = new Set()));
      set.add(value);
      return;
    }
    const segs = channel.split('.');
    let n = this.root;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i];
      if (s === '>' && i === segs.length - 1) {
        n.rest.add(value);
        this.patterns++;
        return;
      }
      if (s === '*') n = n.star ??= node();
      else {
        let c = n.children.get(s);
        if (!c) n.children.set(s, (c = node()));
        n = c;
      }
    }
    n.here.add(value);
    this.patterns++;
  }

  /** Removes `value`; empty branches are pruned so memory follows live subscriptions. */
  remove(channel: string, pattern: boolean, value: T): void {
    if (!pattern) {
      const set = this.exact.get(channel);
      if (set?.delete(value) && set.size === 0) this.exact.delete(channel);
      return;
    }
    const segs = channel.split('.');
    const path: Array<[TrieNode<T>, string]> = [];
    let n: TrieNode<T> | undefined = this.root;
    for (let i = 0; i < segs.length && n; i++) {
      const s = segs[i];
      if (s === '>' && i === segs.length - 1) {
        if (n.rest.delete(value)) this.patterns--;
        break;
      }
      path.push([n, s]);
      n = s === '*' ? n.star : n.children.get(s);
      if (i === segs.length - 1 && n && n.here.delete(value)) this.patterns--;
    }
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, s] = path[i];
      const child = s === '*' ? parent.star : parent.children.get(s);
      if (!child || child.here.size || child.rest.size || child.children.size || child.star) break;
      if (s === '*') parent.star = undefined;
      else parent.children.delete(s);
    }
  }

  /** Subscribers of exactly this channel name (no patterns); cheap, for counts and lookups. */
  exactSubscribers(channel: string): ReadonlySet<T> | undefined {
    return this.exact.get(channel);
  }

  /** Calls `fn` once per subscription matching `channel`. */
  match(channel: string, fn: (value: T) => void): void {
    const set = this.exact.get(channel);
    if (set) for (const v of set) fn(v);
    if (this.patterns === 0) return;
    walk(this.root, channel.split('.'), 0, fn);
  }

  /** Exact channel names that currently have subscribers. */
  channels(): IterableIterator<string> {
    return this.exact.keys();
  }

  /** Number of pattern subscriptions. */
  get patternCount(): number {
    return this.patterns;
  }
}

function walk<T>(n: TrieNode<T>, segs: string[], i: number, fn: (value: T) => void): void {
  if (i < segs.length) for (const v of n.rest) fn(v);
  if (i === segs.length) {
    for (const v of n.here) fn(v);
    return;
  }
  const c = n.children.get(segs[i]);
  if (c) walk(c, segs, i + 1, fn);
  if (n.star) walk(n.star, segs, i + 1, fn);
}
