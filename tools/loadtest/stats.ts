/**
 * What a worker reports and how the coordinator merges it. Histograms are `perf_hooks`
 * histograms in microseconds; worker threads hand them over by structured clone.
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { addCounts, emptyCounts, type StreamCounts } from './checker.js';

/** Totals of a set of clients. */
export interface ClientTotals {
  clients: number;
  connected: number;
  neverConnected: number;
  neverSubscribed: number;
  reconnects: number;
  /** Connections the load tester cut on purpose (churn). */
  forcedDrops: number;
  /** Times a client stopped reading (pauses). */
  pauses: number;
  recoveries: { succeeded: number; failed: number };
  /** Discontinuities the SDK reported, by reason. */
  discontinuities: Record<string, number>;
  /** Messages the server said it dropped for slow connections (QoS 0). */
  droppedNotices: number;
  /** Close codes seen by clients. */
  closes: Record<string, number>;
  /** Errors by code or kind. */
  errors: Record<string, number>;
  /** Correctness counts per QoS. */
  qos: [StreamCounts, StreamCounts];
  /** Deliveries the handlers saw, including duplicates. */
  handled: number;
}

/** A worker's final report. */
export interface WorkerResult {
  totals: ClientTotals;
  connectLatency: RecordableHistogram;
  deliveryLatency: RecordableHistogram;
}

/** A worker's periodic progress. */
export interface WorkerProgress {
  connected: number;
  subscribed: number;
  handled: number;
  reconnects: number;
}

export function emptyTotals(): ClientTotals {
  return {
    clients: 0,
    connected: 0,
    neverConnected: 0,
    neverSubscribed: 0,
    reconnects: 0,
    forcedDrops: 0,
    pauses: 0,
    recoveries: { succeeded: 0, failed: 0 },
    discontinuities: {},
    droppedNotices: 0,
    closes: {},
    errors: {},
    qos: [emptyCounts(), emptyCounts()],
    handled: 0,
  };
}

/** Increments a counter in a record. */
export function bump(rec: Record<string, number>, key: string | number, n = 1): void {
  rec[key] = (rec[key] ?? 0) + n;
}

function addRecord(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) bump(into, k, v);
}

/** Adds `t` into `into`. */
export function mergeTotals(into: ClientTotals, t: ClientTotals): ClientTotals {
  for (const k of [
    'clients',
    'connected',
    'neverConnected',
    'neverSubscribed',
    'reconnects',
    'forcedDrops',
    'pauses',
    'droppedNotices',
    'handled',
  ] as const)
    into[k] += t[k];
  into.recoveries.succeeded += t.recoveries.succeeded;
  into.recoveries.failed += t.recoveries.failed;
  addRecord(into.discontinuities, t.discontinuities);
  addRecord(into.closes, t.closes);
  addRecord(into.errors, t.errors);
  addCounts(into.qos[0], t.qos[0]);
  addCounts(into.qos[1], t.qos[1]);
  return into;
}

/** A fresh histogram (microseconds). */
export function histogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 });
}
