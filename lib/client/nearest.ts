/**
 * `switchyardjs/client/nearest`: connect to the nearest region. Give the client endpoints with
 * region labels; before the first connect and before every reconnect it measures the round
 * trip to each (a short HTTP request to the endpoint, in parallel, bounded by `probeTimeout`)
 * and connects to the lowest, falling back in order of measured round trip. Endpoints whose
 * round trips are within `spread` ms of the best are picked at random, and the endpoint that
 * just failed goes last, so the clients of a failed region spread over the others instead of
 * all landing on one. See docs/regions.md.
 *
 * ```ts
 * import { connect } from 'switchyardjs/client';
 * import { nearestEndpoint } from 'switchyardjs/client/nearest';
 * const nearest = nearestEndpoint([
 *   { url: 'wss://eu.example.com/realtime', region: 'eu' },
 *   { url: 'wss://us.example.com/realtime', region: 'us' },
 * ]);
 * const client = connect(nearest);
 * client.on('connected', () => console.log(nearest.region, nearest.rtt));
 * ```
 * It is a module of its own, outside `switchyardjs/client`, so the browser bundle does not grow.
 * @module
 */
import type { Endpoints } from './endpoints.js';

/** One endpoint of {@link nearestEndpoint}. */
export interface RegionEndpoint {
  /** `ws://` or `wss://` URL of a switchyard node (or the balancer of a region). */
  url: string;
  /** A label for logs and the client's state (e.g. `eu-west`). Default: the URL's host. */
  region?: string;
}

/** Options of {@link nearestEndpoint}. */
export interface NearestOptions {
  /** Longest the measurement of one endpoint (two probes) may take, ms (default 1,000); longer counts as unreachable. */
  probeTimeout?: number;
  /** Endpoints within this many ms of the best round trip are chosen at random (default 20). */
  spread?: number;
  /**
   * Measures one endpoint: resolves with a round trip in ms, rejects when unreachable. It runs
   * twice per choice and the lower figure counts. Default:
   * the time a `fetch` of the endpoint's http(s) URL takes to answer (any status; an opaque
   * `no-cors` answer counts), which is one TCP handshake and one request: about two round trips.
   */
  probe?: (url: string, signal: AbortSignal) => Promise<number>;
}

/** The endpoint chooser: pass it to `connect()`; its fields are the client's current choice. */
export interface NearestEndpoints extends Endpoints {
  /** Region label of the current endpoint. */
  readonly region: string;
  /** Measured round trip of the current endpoint, ms (undefined before the first probe or when it was not reachable). */
  readonly rtt: number | undefined;
  /** The last measurement of every endpoint, ms (undefined: unreachable or not measured yet). */
  readonly measured: ReadonlyMap<string, number | undefined>;
  /** Probes every endpoint and picks the one the next attempt uses (the client calls it before each connect). */
  choose(): Promise<void>;
}

const defaultProbe = async (url: string, signal: AbortSignal): Promise<number> => {
  const t0 = performance.now();
  await fetch(url.replace(/^ws/, 'http'), { method: 'GET', mode: 'no-cors', cache: 'no-store', signal });
  return performance.now() - t0;
};

const posInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;

/**
 * An {@link Endpoints} that prefers the lowest measured round trip.
 * @throws TypeError for an empty list, an endpoint without a ws:// or wss:// URL, or a bad option.
 */
export function nearestEndpoint(list: readonly RegionEndpoint[], options: NearestOptions = {}): NearestEndpoints {
  if (!Array.isArray(list) || list.length === 0)
    throw new TypeError('nearestEndpoint: pass a non-empty array of { url, region? }');
  for (const e of list) {
    if (typeof e?.url !== 'string' || !/^wss?:\/\//.test(e.url))
      throw new TypeError(`nearestEndpoint: each endpoint needs url: "ws://…" or "wss://…" (got ${JSON.stringify(e)})`);
    if (e.region !== undefined && typeof e.region !== 'string')
      throw new TypeError(`nearestEndpoint: region must be a string (got ${JSON.stringify(e.region)})`);
  }
  const { probeTimeout = 1_000, spread = 20, probe = defaultProbe } = options;
  if (!posInt(probeTimeout))
    throw new TypeError(`nearestEndpoint: probeTimeout must be a positive integer of ms (got ${String(probeTimeout)})`);
  if (typeof spread !== 'number' || !(spread >= 0))
    throw new TypeError(`nearestEndpoint: spread must be a number of ms ≥ 0 (got ${String(spread)})`);
  if (typeof probe !== 'function')
    throw new TypeError('nearestEndpoint: probe must be a function (url, signal) => Promise<rtt ms>');
  const urls = list.map((e) => e.url);
  const regions = new Map(list.map((e) => [e.url, e.region ?? new URL(e.url.replace(/^ws/, 'http')).host]));
  const measured = new Map<string, number | undefined>(urls.map((u) => [u, undefined]));
  /** Best first: the order `next()` falls back in. */
  let order = [...urls];
  let i = 0;
  /** The endpoint whose connection failed last: it goes to the back of the next choice. */
  let failed: string | undefined;

  const measure = async (url: string): Promise<void> => {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), probeTimeout);
    try {
      // Twice, keeping the lower: the first may include a connection's setup or a cold start.
      let ms = await probe(url, ctl.signal);
      ms = Math.min(ms, await probe(url, ctl.signal));
      measured.set(url, ctl.signal.aborted || !(ms >= 0) ? undefined : ms);
    } catch {
      measured.set(url, undefined);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    all: urls,
    measured,
    get current() {
      return order[i]!;
    },
    get region() {
      return regions.get(order[i]!)!;
    },
    get rtt() {
      return measured.get(order[i]!);
    },
    next() {
      failed = order[i];
      i = (i + 1) % order.length;
      return order[i]!;
    },
    async choose() {
      await Promise.all(urls.map(measure));
      const rank = (u: string) => (u === failed && urls.length > 1 ? Infinity : (measured.get(u) ?? Number.MAX_VALUE));
      // Unreachable and just-failed endpoints keep their given order at the back (a stable sort).
      order = [...urls].sort((a, b) => rank(a) - rank(b));
      const best = rank(order[0]!);
      // Spread the clients of a failed region over the endpoints that are about as near.
      const near = best < Number.MAX_VALUE ? order.filter((u) => rank(u) <= best + spread).length : 1;
      const pick = Math.floor(Math.random() * near);
      order.unshift(...order.splice(pick, 1));
      i = 0;
      failed = undefined;
    },
  };
}
