/**
 * switchyard's metrics in the app's own `prom-client` registry, beside its other metrics and
 * Node's default ones:
 *
 * ```ts
 * import client from 'prom-client';
 * import { registerMetrics } from 'switchyardjs/prometheus';
 * client.collectDefaultMetrics();
 * registerMetrics(hub);                        // or registerMetrics(hub, { registry })
 * app.get('/metrics', async (_req, res) => res.type(client.register.contentType).send(await client.register.metrics()));
 * ```
 *
 * Every value is read from `hub.metrics()` when the registry is scraped (collect time); nothing
 * is recorded twice. `prom-client` is an optional peer dependency loaded only by this subpath.
 * @module
 */
import promClient, { type Registry, type RegistryContentType } from 'prom-client';
import { optionError } from '../lib/errors.js';
import type { Switchyard } from '../lib/hub.js';
import { metricFamilies, type MetricFamily } from '../lib/metrics.js';

/** Options of {@link registerMetrics}. */
export interface PrometheusOptions {
  /** The registry to register in. Default: prom-client's default registry (`client.register`). */
  registry?: Registry<RegistryContentType>;
  /**
   * Prefix of every metric name. Default `'switchyard_'`. Give each hub its own prefix when
   * several share a registry (or use separate registries).
   */
  prefix?: string;
}

/** What {@link registerMetrics} returns. */
export interface RegisteredMetrics {
  /** The metric names registered. */
  readonly names: readonly string[];
  /** Removes them from the registry again. */
  unregister(): void;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers every switchyard metric (docs/operations.md lists them) in `registry`. Counters,
 * gauges and histograms keep their Prometheus types; label values are escaped by prom-client.
 * `registry.resetMetrics()` leaves them alone: they belong to the hub.
 * @throws SwitchyardError (150) for a bad option, or when a metric of the same name is already registered.
 */
export function registerMetrics(hub: Switchyard, options: PrometheusOptions = {}): RegisteredMetrics {
  if (typeof options !== 'object' || options === null)
    throw optionError('prometheus options', 'an object like { registry, prefix }', options);
  const { registry = promClient.register as Registry<RegistryContentType>, prefix = 'switchyard_' } = options;
  if (typeof registry !== 'object' || registry === null || typeof registry.registerMetric !== 'function') {
    throw optionError('registry', 'a prom-client Registry', registry);
  }
  if (typeof prefix !== 'string' || !NAME.test(prefix + 'x'))
    throw optionError('prefix', 'letters, digits, _ and :, not starting with a digit', prefix);

  // One snapshot per scrape: the registry asks every metric in one synchronous pass, so the
  // cache is dropped on the next microtask.
  let cache: Map<string, MetricFamily> | undefined;
  const family = (name: string): MetricFamily | undefined => {
    if (!cache) {
      cache = new Map(metricFamilies(hub.metrics(), prefix).map((f) => [f.name, f]));
      queueMicrotask(() => (cache = undefined));
    }
    return cache.get(name);
  };

  const families = metricFamilies(hub.metrics(), prefix);
  for (const f of families) {
    if (registry.getSingleMetric(f.name))
      throw optionError(
        'prefix',
        `unique in this registry (${f.name} is already registered; give each hub its own prefix)`,
        prefix,
      );
  }
  for (const f of families) {
    const metric = {
      name: f.name,
      help: f.help,
      type: f.type,
      aggregator: 'sum' as const,
      get: () => {
        const now = family(f.name) ?? f;
        return {
          // An OpenMetrics registry renames counters (drops `_total`, adds it back per sample): follow it.
          name: metric.name,
          help: f.help,
          type: f.type,
          aggregator: 'sum' as const,
          values: now.samples.map((s) => ({
            labels: s.labels,
            value: s.value,
            ...(s.suffix && { metricName: f.name + s.suffix }),
          })),
        };
      },
      reset: () => {},
    };
    registry.registerMetric(metric as unknown as Parameters<Registry<RegistryContentType>['registerMetric']>[0]);
  }
  const names = families.map((f) => f.name);
  return { names, unregister: () => names.forEach((n) => registry.removeSingleMetric(n)) };
}
