/**
 * The HTTP API for backends that hold no WebSocket (a cron job, another service): publish one
 * message or a batch, read history, list channels, health; and for operators `/metrics`
 * (Prometheus text), `/status` (JSON) and, when enabled, the admin page. Framework-agnostic: {@link createApi}
 * turns a request into a reply; `httpApi()` (switchyard/http) serves it on bare `node:http`, and the Express,
 * Fastify and Koa adapters mount the same core. Endpoints, status codes and curl examples are in
 * `docs/http-api.md`. It only calls the hub's public methods; no delivery logic lives here.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { checkChannel } from './channel-name.js';
import { errorName, optionError, SwitchyardError, type ErrorName } from './errors.js';
import type { Switchyard } from './hub.js';
import { isIntIn } from './integers.js';
import { ADMIN_CSS, ADMIN_HTML, ADMIN_JS } from './admin-page.js';
import { prometheusText } from './metrics.js';
import { exceedsDepth, MAX_ID_LENGTH } from './validate.js';

/** Lower-cased request headers, as node:http and every framework give them. */
export type IncomingHttpHeaders = Record<string, string | string[] | undefined>;

/** What the `authorize` option of the HTTP API is asked. */
export interface ApiAuthRequest {
  /** `publish` (one message or a batch), `history`, `channels`, or `operations` (`/metrics`, `/status`). */
  action: 'publish' | 'history' | 'channels' | 'operations';
  /** Channels the request touches (empty for `channels`). */
  channels: string[];
  /** Lower-cased request headers. */
  headers: IncomingHttpHeaders;
  /** The framework's request (node:http IncomingMessage, Express req, Fastify request, Koa context). */
  raw: unknown;
}

/** Options of the HTTP API (every adapter takes the same). */
export interface HttpApiOptions {
  /** URL prefix of the endpoints. Default `'/realtime/api'` for {@link httpApi}; frameworks that mount by path (Express, Koa) document their own. */
  prefix?: string;
  /**
   * Accepted API key(s), sent as `Authorization: Bearer <key>` or `X-Api-Key: <key>`. A missing or
   * wrong key gets 401 with error 115. Default: no key (then `authorize` is required).
   */
  apiKey?: string | string[];
  /**
   * The app's own check, run after the key check with the channels the request touches. Return
   * true to allow; false gets 403 (error 107); a throw gets 500 (error 200, logged). Pass
   * `() => true` when your app's middleware already protects the prefix. Default: none.
   */
  authorize?: (req: ApiAuthRequest) => boolean | Promise<boolean>;
  /** Largest request body in bytes; larger gets 413 (error 104). Default 1,048,576 (1 MiB). */
  maxBodyBytes?: number;
  /** Most messages in one batch publish. Default 100. */
  maxBatch?: number;
  /**
   * Serve `GET {prefix}/metrics` (Prometheus text) and `GET {prefix}/status` (JSON), behind the
   * key like every endpoint (or `operationsKey`). Default true; false answers them with 404.
   */
  operations?: boolean;
  /**
   * Key(s) that may read `/metrics` and `/status` but nothing else, e.g. for a Prometheus scraper.
   * `apiKey` keeps working for them too. Default: none.
   */
  operationsKey?: string | string[];
  /**
   * Serve the admin page at `GET {prefix}/admin` (needs `operations`). The page holds no data;
   * it reads `/status` with the key the viewer types in (or the app's cookies when `authorize`
   * protects the API). Default false: 404.
   */
  admin?: boolean;
}

/**
 * One request as the core sees it; adapters fill it from their framework. `path` is below the
 * prefix (`/publish`); `body()` is called only after the key check and yields a Buffer/string to
 * parse as JSON, or a value a body parser already produced.
 */
export interface ApiInput {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: () => Promise<unknown>;
  raw: unknown;
}

/** The reply an adapter writes: `body` as JSON with `status` and extra `headers`; a string `body` with its own `content-type` header is written as is. */
export interface ApiReply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** HTTP status for each registry code (documented in docs/http-api.md). Unlisted codes: 400 below 200, else 500. */
export const HTTP_STATUS: Readonly<Record<number, number>> = Object.freeze({
  100: 400,
  101: 400,
  102: 400,
  103: 400,
  104: 413,
  105: 400,
  106: 429,
  107: 403,
  108: 403,
  109: 409,
  110: 400,
  111: 415,
  112: 409,
  113: 400,
  114: 409,
  115: 401,
  116: 404,
  117: 409,
  118: 429,
  119: 429,
  120: 401,
  121: 403,
  122: 409,
  130: 401,
  131: 401,
  132: 401,
  133: 401,
  134: 401,
  135: 401,
  136: 401,
  137: 401,
  150: 400,
  200: 500,
  201: 503,
  202: 503,
});

/** A registry error with an HTTP status other than the default for its code (415, 405). */
class ApiError extends SwitchyardError {
  constructor(
    reason: ErrorName,
    detail: string,
    readonly status?: number,
    readonly headers: Record<string, string> = {},
  ) {
    super(reason, detail);
  }
}

/** The error envelope, `{error:{code,name,message}}`, with its HTTP status (`status` overrides the code's default). */
export function errorReply(err: unknown, status?: number): ApiReply {
  const e = err instanceof SwitchyardError ? err : new SwitchyardError('INTERNAL');
  status ??= (e instanceof ApiError && e.status) || HTTP_STATUS[e.code] || (e.code < 200 ? 400 : 500);
  const headers = e instanceof ApiError ? e.headers : {};
  return {
    status,
    headers,
    body: { error: { code: e.code, name: errorName(e.code) ?? e.reason, message: e.message } },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const header = (h: IncomingHttpHeaders, name: string): string | undefined => [h[name]].flat()[0];
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SwitchyardError('BAD_JSON', 'request body is not valid JSON');
  }
}

type Item = { channel: string; data: unknown; idempotencyKey?: string };

/**
 * Builds the framework-agnostic API. `match(url)` says whether a URL is under the prefix and
 * gives the inner path; `handle(input)` never rejects: failures become error replies.
 * @throws SwitchyardError (150) for a bad option, or when neither `apiKey` nor `authorize` is given.
 */
export function createApi(hub: Switchyard, options: HttpApiOptions = {}) {
  if (typeof options !== 'object' || options === null)
    throw optionError('HTTP API options', 'an object like { apiKey }', options);
  const {
    prefix = '/realtime/api',
    apiKey,
    authorize,
    maxBodyBytes = 1 << 20,
    maxBatch = 100,
    operations = true,
    operationsKey,
    admin = false,
  } = options;
  if (typeof prefix !== 'string' || (prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/')))) {
    throw optionError(
      'prefix',
      "a path like '/realtime/api' (no trailing slash), or '' when the framework mounts it",
      prefix,
    );
  }
  const keyList = (name: string, v: string | string[] | undefined): string[] => {
    const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
    if (!list.every((k) => typeof k === 'string' && k.length > 0))
      throw optionError(name, 'a non-empty string or an array of them', v);
    return list;
  };
  const keys = keyList('apiKey', apiKey);
  const opsKeys = keyList('operationsKey', operationsKey);
  for (const [k, v] of Object.entries({ operations, admin }))
    if (typeof v !== 'boolean') throw optionError(k, 'true or false', v);
  if (admin && !operations)
    throw optionError('admin', 'false when operations is false (the page reads /status)', admin);
  if (authorize !== undefined && typeof authorize !== 'function')
    throw optionError('authorize', 'a function returning true to allow', authorize);
  if (keys.length === 0 && !authorize)
    throw optionError(
      'apiKey',
      'set (or pass authorize: () => true when your app already protects the prefix)',
      apiKey,
    );
  for (const [k, v] of Object.entries({ maxBodyBytes, maxBatch }))
    if (!isIntIn(v, 1)) throw optionError(k, 'a positive integer', v);
  const keyDigests = keys.map(digest);
  const opsDigests = [...keyDigests, ...opsKeys.map(digest)];
  const { maxMessageBytes, maxChannelBytes, maxDepth, maxHistoryLimit } = hub.options.limits;

  const keyOk = (h: IncomingHttpHeaders, accepted: Buffer[]): boolean => {
    const auth = header(h, 'authorization');
    const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : header(h, 'x-api-key');
    if (given === undefined) return false;
    const d = digest(given);
    // Compare digests in constant time against every key so timing reveals neither key nor index.
    return accepted.reduce((ok, k) => timingSafeEqual(k, d) || ok, false);
  };

  const checkItem = (v: unknown, where: string, fallbackKey?: string): Item => {
    if (!isObject(v))
      throw new SwitchyardError('BAD_FRAME', `${where} must be an object {channel, data, idempotencyKey?}`);
    for (const k of Object.keys(v))
      if (k !== 'channel' && k !== 'data' && k !== 'idempotencyKey')
        throw new SwitchyardError('BAD_FRAME', `${where}.${k} is not a field`);
    const chErr = checkChannel(v.channel, false, maxChannelBytes);
    if (chErr) throw new SwitchyardError('BAD_CHANNEL', `${where}.channel: ${chErr}`);
    if (!Object.hasOwn(v, 'data')) throw new SwitchyardError('BAD_FRAME', `${where}.data is required (any JSON value)`);
    if (exceedsDepth(v.data, maxDepth))
      throw new SwitchyardError('BAD_FRAME', `${where}.data is nested deeper than ${maxDepth}`);
    if (Buffer.byteLength(JSON.stringify(v.data)) > maxMessageBytes)
      throw new SwitchyardError('MESSAGE_TOO_LARGE', `${where}.data is larger than ${maxMessageBytes} bytes`);
    const key = v.idempotencyKey ?? fallbackKey;
    if (key !== undefined && !(typeof key === 'string' && key.length > 0 && key.length <= MAX_ID_LENGTH)) {
      throw new SwitchyardError(
        'BAD_FRAME',
        `${where}.idempotencyKey must be a string of 1-${MAX_ID_LENGTH} characters`,
      );
    }
    return { channel: v.channel as string, data: v.data, idempotencyKey: key as string | undefined };
  };

  const readJson = async (input: ApiInput): Promise<Record<string, unknown>> => {
    const type = header(input.headers, 'content-type') ?? '';
    // JSON only: a cross-site form cannot send it without a CORS preflight, which guards cookie-based auth.
    if (!/^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(type))
      throw new ApiError('BAD_JSON', 'send Content-Type: application/json', 415);
    let body = await input.body();
    if (Buffer.isBuffer(body) || typeof body === 'string') body = parseJson(body.toString());
    if (!isObject(body)) throw new SwitchyardError('BAD_FRAME', 'request body must be a JSON object');
    return body;
  };

  const allow = async (input: ApiInput, action: ApiAuthRequest['action'], channels: string[]): Promise<void> => {
    const ok = await Promise.resolve(
      authorize?.({ action, channels, headers: input.headers, raw: input.raw }) ?? true,
    ).catch((err: unknown) => {
      hub.log('error', { err, action }, 'HTTP API authorize hook threw');
      throw new SwitchyardError('INTERNAL', 'authorize failed');
    });
    if (ok !== true) throw new SwitchyardError('FORBIDDEN', `${action} denied`);
  };

  const publishOne = async (it: Item): Promise<ApiReply> => {
    const r = await hub.publish(
      it.channel,
      it.data,
      it.idempotencyKey === undefined ? {} : { idempotencyKey: it.idempotencyKey },
    );
    return { status: 200, headers: r.duplicate ? { 'idempotent-replayed': 'true' } : {}, body: r };
  };

  const routes: Record<string, Record<string, (input: ApiInput) => Promise<ApiReply>>> = {
    '/health': {
      GET: async () => ({
        status: hub.isClosing ? 503 : 200,
        headers: {},
        body: { status: hub.isClosing ? 'closing' : 'ok', connections: hub.connectionCount },
      }),
    },
    '/publish': {
      POST: async (input) => {
        // [BIN-4] raw bytes: the channel in the query, the body stored as is.
        if (/^application\/octet-stream\s*(;|$)/i.test(header(input.headers, 'content-type') ?? '')) {
          const channel = input.query.get('channel') ?? '';
          const chErr = checkChannel(channel, false, maxChannelBytes);
          if (chErr) throw new SwitchyardError('BAD_CHANNEL', `channel (query): ${chErr}`);
          const raw = await input.body();
          const bytes = typeof raw === 'string' ? Buffer.from(raw) : Buffer.isBuffer(raw) ? raw : undefined;
          if (!bytes) throw new SwitchyardError('BAD_FRAME', 'send the bytes as the request body');
          if (bytes.length > maxMessageBytes)
            throw new SwitchyardError('MESSAGE_TOO_LARGE', `body is larger than ${maxMessageBytes} bytes`);
          const key = header(input.headers, 'idempotency-key');
          if (key !== undefined && !(key.length > 0 && key.length <= MAX_ID_LENGTH))
            throw new SwitchyardError('BAD_FRAME', `Idempotency-Key must be 1-${MAX_ID_LENGTH} characters`);
          await allow(input, 'publish', [channel]);
          return publishOne({
            channel,
            data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
            idempotencyKey: key,
          });
        }
        const body = await readJson(input);
        const item = checkItem(body, 'body', header(input.headers, 'idempotency-key'));
        await allow(input, 'publish', [item.channel]);
        return publishOne(item);
      },
    },
    '/batch': {
      POST: async (input) => {
        const body = await readJson(input);
        const list = body.messages;
        if (!Array.isArray(list) || list.length === 0 || list.length > maxBatch) {
          throw new SwitchyardError('BAD_FRAME', `messages must be an array of 1-${maxBatch} {channel, data} objects`);
        }
        const batchKey = header(input.headers, 'idempotency-key');
        if (batchKey !== undefined && batchKey.length > MAX_ID_LENGTH - 6)
          throw new SwitchyardError(
            'BAD_FRAME',
            `Idempotency-Key of a batch is at most ${MAX_ID_LENGTH - 6} characters`,
          );
        // Everything is checked before anything is published, so a bad item publishes nothing.
        const items = list.map((m, i) =>
          checkItem(m, `messages[${i}]`, batchKey === undefined ? undefined : `${batchKey}:${i}`),
        );
        await allow(input, 'publish', [...new Set(items.map((m) => m.channel))]);
        const results: unknown[] = [];
        let failed = 0;
        // One at a time, so messages to one channel keep the order of the array.
        for (const it of items) {
          results.push(
            await publishOne(it).then(
              (r) => r.body,
              (err: unknown) => (failed++, errorReply(err).body),
            ),
          );
        }
        return { status: failed ? 207 : 200, headers: {}, body: { results } };
      },
    },
    '/history': {
      GET: async (input) => {
        const q = input.query;
        const channel = q.get('channel') ?? '';
        const chErr = checkChannel(channel, false, maxChannelBytes);
        if (chErr) throw new SwitchyardError('BAD_CHANNEL', chErr);
        const limit = q.get('limit');
        if (limit !== null && !(/^\d{1,7}$/.test(limit) && +limit >= 1 && +limit <= maxHistoryLimit)) {
          throw new SwitchyardError('BAD_FRAME', `limit must be an integer from 1 to ${maxHistoryLimit}`);
        }
        const since = q.get('since');
        const epoch = q.get('epoch');
        if (
          (since === null) !== (epoch === null) ||
          (since !== null && !/^\d{1,15}$/.test(since)) ||
          (epoch !== null && (epoch.length === 0 || epoch.length > MAX_ID_LENGTH))
        ) {
          throw new SwitchyardError(
            'BAD_FRAME',
            'since (a non-negative integer offset) and epoch must be given together',
          );
        }
        await allow(input, 'history', [channel]);
        const page = await hub.history(channel, {
          ...(limit !== null && { limit: +limit }),
          ...(since !== null && { since: { offset: +since, epoch: epoch! } }),
        });
        // [BIN-4] bytes are `bin` (base64) in JSON, as in frames.
        const messages = page.messages.map((m) =>
          m.data instanceof Uint8Array ? { offset: m.offset, bin: Buffer.from(m.data).toString('base64') } : m,
        );
        return { status: 200, headers: {}, body: { ...page, messages } };
      },
    },
    '/channels': {
      GET: async (input) => {
        await allow(input, 'channels', []);
        return { status: 200, headers: {}, body: { channels: hub.channels() } };
      },
    },
  };
  if (operations) {
    routes['/metrics'] = {
      GET: async (input) => {
        await allow(input, 'operations', []);
        return {
          status: 200,
          headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
          body: prometheusText(hub.metrics()),
        };
      },
    };
    routes['/status'] = {
      GET: async (input) => {
        await allow(input, 'operations', []);
        return { status: 200, headers: {}, body: await hub.status() };
      },
    };
  }
  if (admin) {
    // Static and data-free, so served without the key (a browser cannot send one when navigating);
    // the CSP allows only this origin's script and style, and no framing.
    const page = (type: string, text: string) => async (): Promise<ApiReply> => ({
      status: 200,
      headers: {
        'content-type': `${type}; charset=utf-8`,
        'content-security-policy':
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      },
      body: text,
    });
    routes['/admin'] = { GET: page('text/html', ADMIN_HTML) };
    routes['/admin/app.js'] = { GET: page('text/javascript', ADMIN_JS) };
    routes['/admin/app.css'] = { GET: page('text/css', ADMIN_CSS) };
  }
  const OPEN = new Set(['/health', '/admin', '/admin/app.js', '/admin/app.css']);
  const OPERATIONS = new Set(['/metrics', '/status']);

  return {
    prefix,
    /** The path below the prefix when `url` is under it, else `undefined`. */
    match(url: string | undefined): string | undefined {
      const path = (url ?? '/').split('?')[0] ?? '/';
      if (path !== prefix && !path.startsWith(prefix + '/')) return undefined;
      return path.slice(prefix.length) || '/';
    },
    /** Answers one request; never rejects. */
    async handle(input: ApiInput): Promise<ApiReply> {
      try {
        const route = Object.hasOwn(routes, input.path) ? routes[input.path] : undefined;
        if (!route) throw new SwitchyardError('NOT_FOUND', `${input.path} is not an endpoint`);
        const method = input.method === 'HEAD' ? 'GET' : input.method;
        const fn = route[method];
        if (!fn)
          throw new ApiError('NOT_FOUND', `${input.method} is not allowed on ${input.path}`, 405, {
            allow: Object.keys(route).join(', '),
          });
        if (!OPEN.has(input.path)) {
          // Without any key configured, `authorize` alone decides (it is required then).
          const accepted = OPERATIONS.has(input.path) ? opsDigests : keyDigests;
          if (accepted.length > 0 && !keyOk(input.headers, accepted)) throw new SwitchyardError('UNAUTHORIZED');
        }
        return await fn(input);
      } catch (err) {
        if (!(err instanceof SwitchyardError)) hub.log('error', { err }, 'HTTP API request failed');
        return errorReply(err);
      }
    },
  };
}

/** The API built by {@link createApi}. */
export type Api = ReturnType<typeof createApi>;
