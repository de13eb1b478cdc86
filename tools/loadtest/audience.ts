/**
 * The audience plan: which channel each client joins, at which QoS, and whether it churns or
 * pauses. Deterministic for a given seed, so a failing run can be repeated.
 * @module
 */
import type { LoadtestConfig } from './config.js';

/** What one simulated client does. */
export interface ClientPlan {
  index: number;
  channel: string;
  qos: 0 | 1;
  churns: boolean;
  pauses: boolean;
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cumulative zipf weights over `n` ranks: rank k gets weight 1/(k+1)^s. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return cdf;
}

/** Index of the first cdf entry >= u (binary search). */
export function pick(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! >= u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Channel names of a run; the run id keeps repeated runs against one server apart. */
export function channelNames(runId: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `loadtest.${runId}.c${i}`);
}

type PlanInput = Pick<
  LoadtestConfig,
  'clients' | 'channels' | 'spread' | 'zipfExponent' | 'qos' | 'churn' | 'pauses' | 'seed'
>;

/** Plans every client of a run. */
export function planAudience(cfg: PlanInput, channels: string[]): ClientPlan[] {
  const rnd = prng(cfg.seed);
  const cdf = cfg.spread === 'zipf' ? zipfCdf(channels.length, cfg.zipfExponent) : undefined;
  const churners = Math.round(cfg.clients * cfg.churn);
  const pausers = Math.round(cfg.clients * cfg.pauses);
  const plans: ClientPlan[] = [];
  for (let i = 0; i < cfg.clients; i++) {
    const ch = cdf ? pick(cdf, rnd()) : i % channels.length;
    plans.push({
      index: i,
      channel: channels[ch]!,
      qos: cfg.qos === 'mixed' ? ((i % 2) as 0 | 1) : cfg.qos,
      // Spread churners and pausers evenly over the ramp (and over channels) rather than
      // bunching them at the start.
      churns: churners > 0 && Math.floor(((i + 1) * churners) / cfg.clients) > Math.floor((i * churners) / cfg.clients),
      pauses: pausers > 0 && Math.floor(((i + 1) * pausers) / cfg.clients) > Math.floor((i * pausers) / cfg.clients),
    });
  }
  return plans;
}
