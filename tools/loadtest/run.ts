/**
 * The load-test coordinator: starts the target (optionally), spreads the audience over worker
 * threads, publishes at the configured rate, tells the workers where every channel ended, and
 * merges their reports.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { channelNames, planAudience, type ClientPlan } from './audience.js';
import type { Pos } from './checker.js';
import type { LoadtestConfig } from './config.js';
import { createPublisher, type Publisher } from './publisher.js';
import { buildReport, type Progress, type PublishTotals, type Report } from './report.js';

export type { Progress };
import { emptyTotals, histogram, mergeTotals, bump, type WorkerProgress, type WorkerResult } from './stats.js';
import { startTarget, type Target } from './target.js';
import { now, type FromWorker, type ToWorker, type WorkerInput } from './worker.js';
import { randomHex } from '../../lib/random-id.js';

/** Publishes not yet answered, beyond which the publisher skips ticks (and says so). */
const MAX_IN_FLIGHT = 10_000;
const TICK_MS = 5;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function padding(bytes: number): string {
  return 'x'.repeat(bytes);
}

/** Runs one load test. `onProgress` is called about once a second. */
export async function runLoadtest(cfg: LoadtestConfig, onProgress?: (p: Progress) => void): Promise<Report> {
  const began = Date.now();
  const runId = randomHex(3);
  const channels = channelNames(runId, cfg.channels);
  const plans = planAudience(cfg, channels);
  let target: Target | undefined;
  let publisher: Publisher | undefined;
  const workers: Worker[] = [];
  const progress: WorkerProgress[] = [];
  const results: Array<WorkerResult | undefined> = [];
  const pub: PublishTotals = { attempted: 0, ok: 0, failed: 0, errors: {}, skippedTicks: 0, latency: histogram() };
  let phase: Progress['phase'] = 'ramp-up';
  let ticker: ReturnType<typeof setInterval> | undefined;
  const timing = { rampUp: 0, waitingForAudience: 0, publishing: 0, draining: 0 };
  try {
    if (cfg.spawnServer) {
      // History deep enough for a churning client to recover whatever it missed while away.
      const perChannel = Math.ceil((cfg.rate * (cfg.duration + cfg.rampUp)) / 1000 / cfg.channels) + 100;
      target = await startTarget(Math.min(1_000_000, Math.max(1_000, perChannel)));
    }
    const url = target?.url ?? cfg.url!;
    publisher = await createPublisher(cfg, url, target);

    const share: ClientPlan[][] = Array.from({ length: Math.min(cfg.workers, cfg.clients) }, () => []);
    plans.forEach((p, i) => share[i % share.length]!.push(p));
    const startAt = Date.now() + 100;
    const workerUrl = new URL('./worker.js', import.meta.url);
    const done: Array<Promise<void>> = [];
    share.forEach((mine, w) => {
      const input: WorkerInput = {
        url,
        plans: mine,
        startAt,
        rampUp: cfg.rampUp,
        totalClients: cfg.clients,
        churnInterval: cfg.churnInterval,
        pauseInterval: cfg.pauseInterval,
        pauseLength: cfg.pauseLength,
        auth: cfg.auth,
      };
      const worker = new Worker(workerUrl, { workerData: input });
      workers.push(worker);
      progress.push({ connected: 0, subscribed: 0, handled: 0, reconnects: 0 });
      results.push(undefined);
      done.push(
        new Promise<void>((resolve, reject) => {
          worker.on('message', (m: FromWorker) => {
            if (m.type === 'progress') progress[w] = m.progress;
            else {
              results[w] = m.result;
              resolve();
            }
          });
          worker.on('error', reject);
          worker.on('exit', (code) =>
            results[w] ? resolve() : reject(new Error(`load-test worker ${w} exited with ${code} before reporting`)),
          );
        }),
      );
    });
    const sum = (): WorkerProgress =>
      progress.reduce(
        (a, p) => ({
          connected: a.connected + p.connected,
          subscribed: a.subscribed + p.subscribed,
          handled: a.handled + p.handled,
          reconnects: a.reconnects + p.reconnects,
        }),
        {
          connected: 0,
          subscribed: 0,
          handled: 0,
          reconnects: 0,
        },
      );
    if (onProgress) {
      ticker = setInterval(
        () =>
          onProgress({
            phase,
            elapsed: Date.now() - began,
            clients: cfg.clients,
            ...sum(),
            published: pub.ok,
            publishErrors: pub.failed,
          }),
        1_000,
      );
      ticker.unref();
    }

    // Ramp-up: publishing starts once the audience is in (or a bounded grace period passed).
    const rampEnd = startAt + cfg.rampUp;
    const grace = rampEnd + 5_000 + cfg.clients;
    while (Date.now() < rampEnd || (sum().subscribed < cfg.clients && Date.now() < grace)) await sleep(50);
    // The configured ramp-up and the wait for stragglers after it are reported apart.
    timing.rampUp = Math.min(cfg.rampUp, Date.now() - startAt);
    timing.waitingForAudience = Math.max(0, Date.now() - startAt - cfg.rampUp);
    // Nobody to deliver to (refused, wrong URL): publishing would check nothing; the report says why.
    const audience = sum().connected > 0;

    // Publishing: a fixed rate, round-robin over channels; each result is the channel's new end.
    phase = 'publishing';
    const finals: Record<string, Pos> = {};
    const pad = padding(cfg.payloadBytes);
    const total = audience ? Math.round((cfg.rate * cfg.duration) / 1000) : 0;
    const inFlight = new Set<Promise<void>>();
    const pubStart = Date.now();
    let seq = 0;
    while (seq < total) {
      const due = Math.min(total, Math.floor(((Date.now() - pubStart) * cfg.rate) / 1000));
      if (due > seq && inFlight.size >= MAX_IN_FLIGHT) pub.skippedTicks++;
      while (seq < due && inFlight.size < MAX_IN_FLIGHT) {
        const ch = channels[seq % channels.length];
        seq++;
        pub.attempted++;
        const sentAt = now();
        const p: Promise<void> = publisher
          .publish(ch!, { t: sentAt, p: pad })
          .then(
            (pos) => {
              pub.ok++;
              pub.latency.record(Math.max(1, Math.round((now() - sentAt) * 1000)));
              const f = finals[ch!];
              if (!f || f.epoch !== pos.epoch || pos.offset > f.offset)
                finals[ch!] = { offset: pos.offset, epoch: pos.epoch };
            },
            (err: unknown) => {
              pub.failed++;
              bump(
                pub.errors,
                (err as { code?: number }).code !== undefined
                  ? `${(err as { code: number }).code} ${(err as Error).message}`
                  : (err as Error).message,
              );
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (Date.now() - pubStart > cfg.duration + 30_000) break;
      await sleep(TICK_MS);
    }
    let settleTimer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(inFlight), new Promise((r) => (settleTimer = setTimeout(r, 10_000)))]);
    clearTimeout(settleTimer);
    timing.publishing = Date.now() - pubStart;

    // Drain: every worker waits until its clients reached each channel's end, bounded by --drain.
    phase = 'draining';
    const drainStart = Date.now();
    for (const w of workers)
      w.postMessage({ type: 'final', positions: finals, drain: audience ? cfg.drain : 0 } satisfies ToWorker);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(done),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error('load-test workers did not report in time')), cfg.drain + 15_000)),
      ),
    ]);
    clearTimeout(timer);
    timing.draining = Date.now() - drainStart;
  } finally {
    if (ticker) clearInterval(ticker);
    publisher?.close();
    await Promise.all(workers.map((w) => w.terminate()));
    await target?.close();
  }
  const totals = emptyTotals();
  const connectLatency = histogram();
  const deliveryLatency = histogram();
  for (const r of results) {
    if (!r) continue;
    mergeTotals(totals, r.totals);
    connectLatency.add(r.connectLatency);
    deliveryLatency.add(r.deliveryLatency);
  }
  return buildReport(cfg, {
    totals,
    connectLatency,
    deliveryLatency,
    publish: pub,
    timing,
    elapsed: Date.now() - began,
  });
}
