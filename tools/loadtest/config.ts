/**
 * Command-line options of `switchyard loadtest`: parsing (node:util parseArgs), defaults, bounds
 * and the loopback guard. Every bad value is reported with what to pass instead.
 * @module
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';

/** How the load tester publishes the messages it later checks. */
export type PublishMode = 'hub' | 'http' | 'client';

/** A fully resolved load-test configuration. */
export interface LoadtestConfig {
  /** WebSocket endpoint; undefined with `spawnServer` until the server is listening. */
  url: string | undefined;
  spawnServer: boolean;
  allowRemote: boolean;
  clients: number;
  /** Milliseconds over which clients connect, evenly spaced. */
  rampUp: number;
  channels: number;
  spread: 'uniform' | 'zipf';
  zipfExponent: number;
  /** Publishes per second, all channels together, round-robin over channels. */
  rate: number;
  publish: PublishMode;
  apiUrl: string | undefined;
  apiKey: string | undefined;
  /** How clients authenticate; `{i}` in any value is replaced by the client's index (publishers: `pub0`, ...). */
  auth: AuthTemplate;
  /** Publisher connections used by `publish: 'client'`. */
  publishers: number;
  payloadBytes: number;
  qos: 0 | 1 | 'mixed';
  /** Fraction (0..1) of clients whose connection drops at random and comes back. */
  churn: number;
  /** Mean milliseconds between two drops of one churning client. */
  churnInterval: number;
  /** Fraction (0..1) of clients that stop reading from their socket for a while. */
  pauses: number;
  pauseInterval: number;
  pauseLength: number;
  /** Milliseconds of publishing after the ramp-up. */
  duration: number;
  /** Milliseconds to wait after the last publish for every client to catch up. */
  drain: number;
  workers: number;
  seed: number;
  json: boolean;
  progress: boolean;
}

/** Credentials every simulated client presents, as templates (`{i}`: the client's index). */
export interface AuthTemplate {
  /** Sent by the SDK as its `token` option (the hub's `authenticate` sees `req.token`). */
  token?: string;
  /** Extra headers of the WebSocket upgrade request (a Cookie header included). */
  headers: Record<string, string>;
}

/** Fills the `{i}` placeholders of a template for one client. */
export function authFor(t: AuthTemplate, i: number | string): { token?: string; headers: Record<string, string> } {
  const fill = (s: string): string => s.replaceAll('{i}', String(i));
  return {
    token: t.token === undefined ? undefined : fill(t.token),
    headers: Object.fromEntries(Object.entries(t.headers).map(([k, v]) => [k, fill(v)])),
  };
}

/** Hard bounds: a load test is bounded in count and time however it is invoked. */
export const BOUNDS = Object.freeze({
  clients: 20_000,
  rate: 200_000,
  durationMs: 3_600_000,
  payloadBytes: 1 << 20,
  workers: 32,
  channels: 100_000,
});

/** The run could not start (e.g. the publisher could not connect); the CLI prints the message and exits with 1. */
export class RunError extends Error {
  override name = 'RunError';
}

/** Thrown for bad command-line input; the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const HELP = `Usage: switchyard loadtest [options]

Target (one of):
  --url <ws://host:port/path>   switchyard endpoint to load (loopback only unless --allow-remote)
  --spawn-server                start an in-process switchyard server on 127.0.0.1 and load it
  --allow-remote                permit a non-loopback --url / --api-url

Authentication (for a server with an authenticate hook; {i} = the client's index 0..n-1,
publishers get pub0, pub1, ...; values never appear in the report):
  --token <t>            token sent by the client SDK (e.g. --token 'user-{i}' for per-user tokens)
  --header <name:value>  extra header on every upgrade request (repeatable)
  --cookie <cookie>      Cookie header on every upgrade request (e.g. --cookie 'sid={i}')

Audience:
  --clients <n>          subscribing clients (default 100, at most ${BOUNDS.clients})
  --ramp-up <s>          seconds over which clients connect (default 2)
  --channels <n>         channels the clients spread over (default 10)
  --spread <kind>        uniform | zipf (a few hot channels) (default uniform)
  --zipf-exponent <s>    skew of the zipf spread (default 1.0)
  --qos <q>              0 | 1 | mixed (half the clients each) (default 1)
  --churn <f>            fraction of clients whose connection drops at random and comes back (default 0)
  --churn-interval <s>   mean seconds between two drops of a churning client (default 3)
  --pauses <f>           fraction of clients that stop reading for a while (default 0)
  --pause-interval <s>   mean seconds between pauses (default 4)
  --pause-length <s>     seconds a pause lasts (default 1)

Traffic:
  --rate <n>             publishes per second over all channels (default 100)
  --payload <bytes>      payload size (default 64)
  --publish <mode>       hub (in-process, needs --spawn-server) | http (the hub's HTTP API:
                         POST <api-url>/publish) | client (SDK publishers, client.publish QoS 1)
                         (default: hub with --spawn-server, else http)
  --api-url <url>        HTTP API prefix for --publish http, e.g. http://127.0.0.1:3000/realtime/api
                         (with --spawn-server: the spawned server's API)
  --api-key <key>        API key sent as "Authorization: Bearer <key>"
  --publishers <n>       publisher connections for --publish client (default 1)
  --duration <s>         seconds of publishing after the ramp-up (default 10)
  --drain <s>            seconds to wait for stragglers after the last publish (default 5)

Run:
  --workers <n>          worker threads running the clients (default: number of CPUs, at most 4)
  --seed <n>             seed of the random audience (default 1)
  --json                 print the report as JSON on stdout
  --no-progress          no live progress line (it is shown only on a TTY anyway)
  -h, --help             this text
  --version              the version of switchyard

Exit status: 0 when every correctness check passed, 1 when one failed, 2 on bad usage.`;

function num(name: string, raw: string | undefined, dflt: number, min: number, max: number, integer = false): number {
  if (raw === undefined) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new UsageError(
      `--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return v;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether a URL's host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return LOOPBACK.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Parses `switchyard loadtest` arguments. Returns `'help'` for -h/--help.
 * @throws UsageError naming the option and the accepted values.
 */
export function parseConfig(argv: string[]): LoadtestConfig | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        'spawn-server': { type: 'boolean' },
        'allow-remote': { type: 'boolean' },
        clients: { type: 'string' },
        'ramp-up': { type: 'string' },
        channels: { type: 'string' },
        spread: { type: 'string' },
        'zipf-exponent': { type: 'string' },
        qos: { type: 'string' },
        churn: { type: 'string' },
        'churn-interval': { type: 'string' },
        pauses: { type: 'string' },
        'pause-interval': { type: 'string' },
        'pause-length': { type: 'string' },
        rate: { type: 'string' },
        payload: { type: 'string' },
        publish: { type: 'string' },
        'api-url': { type: 'string' },
        'api-key': { type: 'string' },
        token: { type: 'string' },
        header: { type: 'string', multiple: true },
        cookie: { type: 'string' },
        version: { type: 'boolean' },
        publishers: { type: 'string' },
        duration: { type: 'string' },
        drain: { type: 'string' },
        workers: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; see --help`);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const headers: Record<string, string> = {};
  for (const h of v.header ?? []) {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(h);
    if (!m) throw new UsageError(`--header must look like 'Name: value' (got ${JSON.stringify(h)})`);
    headers[m[1]!.toLowerCase()] = m[2]!;
  }
  if (v.cookie !== undefined) headers.cookie = v.cookie;
  const spawnServer = v['spawn-server'] === true;
  if (spawnServer === (v.url !== undefined))
    throw new UsageError('pass exactly one of --url <ws://...> or --spawn-server');
  const allowRemote = v['allow-remote'] === true;
  if (v.url !== undefined) {
    if (!/^wss?:\/\//.test(v.url))
      throw new UsageError(`--url must start with ws:// or wss:// (got ${JSON.stringify(v.url)})`);
    if (!allowRemote && !isLoopback(v.url))
      throw new UsageError(
        `--url ${v.url} is not a loopback address; load only servers you own, and pass --allow-remote to confirm`,
      );
  }
  if (v['api-url'] !== undefined) {
    if (!/^https?:\/\//.test(v['api-url']))
      throw new UsageError(`--api-url must start with http:// or https:// (got ${JSON.stringify(v['api-url'])})`);
    if (!allowRemote && !isLoopback(v['api-url']))
      throw new UsageError(`--api-url ${v['api-url']} is not a loopback address; pass --allow-remote to confirm`);
  }
  const spread = v.spread ?? 'uniform';
  if (spread !== 'uniform' && spread !== 'zipf')
    throw new UsageError(`--spread must be uniform or zipf (got ${JSON.stringify(spread)})`);
  const qosRaw = v.qos ?? '1';
  if (qosRaw !== '0' && qosRaw !== '1' && qosRaw !== 'mixed')
    throw new UsageError(`--qos must be 0, 1 or mixed (got ${JSON.stringify(qosRaw)})`);
  const publish = (v.publish ?? (spawnServer ? 'hub' : 'http')) as PublishMode;
  if (publish !== 'hub' && publish !== 'http' && publish !== 'client')
    throw new UsageError(`--publish must be hub, http or client (got ${JSON.stringify(v.publish)})`);
  if (publish === 'hub' && !spawnServer)
    throw new UsageError(
      '--publish hub needs --spawn-server (the hub must run in this process); use --publish http or client',
    );
  if (publish === 'http' && v['api-url'] === undefined && !spawnServer)
    throw new UsageError('--publish http needs --api-url <http://127.0.0.1:PORT/prefix>; or use --publish client');
  const s = (x: number): number => Math.round(x * 1000);
  return {
    url: v.url,
    spawnServer,
    allowRemote,
    clients: num('clients', v.clients, 100, 1, BOUNDS.clients, true),
    rampUp: s(num('ramp-up', v['ramp-up'], 2, 0, 600)),
    channels: num('channels', v.channels, 10, 1, BOUNDS.channels, true),
    spread,
    zipfExponent: num('zipf-exponent', v['zipf-exponent'], 1, 0, 5),
    rate: num('rate', v.rate, 100, 0, BOUNDS.rate),
    publish,
    apiUrl: v['api-url']?.replace(/\/+$/, ''),
    apiKey: v['api-key'],
    auth: { token: v.token, headers },
    publishers: num('publishers', v.publishers, 1, 1, 100, true),
    payloadBytes: num('payload', v.payload, 64, 0, BOUNDS.payloadBytes, true),
    qos: qosRaw === 'mixed' ? 'mixed' : qosRaw === '0' ? 0 : 1,
    churn: num('churn', v.churn, 0, 0, 1),
    churnInterval: s(num('churn-interval', v['churn-interval'], 3, 0.05, 3600)),
    pauses: num('pauses', v.pauses, 0, 0, 1),
    pauseInterval: s(num('pause-interval', v['pause-interval'], 4, 0.05, 3600)),
    pauseLength: s(num('pause-length', v['pause-length'], 1, 0.01, 600)),
    duration: s(num('duration', v.duration, 10, 0.1, BOUNDS.durationMs / 1000)),
    drain: s(num('drain', v.drain, 5, 0, 600)),
    workers: num('workers', v.workers, Math.min(4, Math.max(1, cpus().length)), 1, BOUNDS.workers, true),
    seed: num('seed', v.seed, 1, 0, 2 ** 31, true),
    json: v.json === true,
    progress: v['no-progress'] !== true,
  };
}
