/**
 * Client half of connection expiry (docs/identity.md): fetching a token from the app's provider,
 * and answering the server's `refresh` request over the open socket — retrying a failing
 * provider or a refused token with backoff until it works, the connection ends, or the provider
 * says there is no token (`null`), which stops the client.
 * @module
 */
import { backoffDelay } from './backoff.js';

/** The app's token provider: a fixed token, or a function called on every connect and refresh. */
export type TokenProvider = string | (() => string | null | Promise<string | null>);

/** What fetching a token produced. */
export type TokenResult = { token: string | undefined } | { none: true } | { failed: unknown };

/** Calls the provider once. `null` is the app's "no credentials"; a throw or a non-string is a failure to retry. */
export async function fetchToken(provider: TokenProvider | undefined): Promise<TokenResult> {
  if (provider === undefined) return { token: undefined };
  if (typeof provider === 'string') return { token: provider };
  try {
    const t = await provider();
    if (t === null) return { none: true };
    if (typeof t !== 'string' || t.length === 0)
      return { failed: new TypeError(`token() must return a non-empty string or null (got ${typeof t})`) };
    return { token: t };
  } catch (err) {
    return { failed: err };
  }
}

/** What a refresh needs from the client. */
export interface RefreshHost {
  readonly provider: TokenProvider | undefined;
  /** Whether the connection the refresh was asked on is still the current, open one. */
  current(): boolean;
  /** Sends `{op:'refresh', token}` and resolves with the server's result; rejects with its error. */
  send(token: string): Promise<unknown>;
  /** The server accepted the token. */
  done(result: unknown): void;
  /** A provider or server failure, for the app's `tokenError` listeners. */
  failed(err: unknown): void;
  /** The provider returned `null`: stop the client. */
  noToken(): void;
  readonly minDelay: number;
  readonly maxDelay: number;
}

/**
 * One refresh, started by the server's `refresh` frame. Retries with full-jitter backoff while the
 * connection lasts; if it expires first, the server closes it with 3010 and the reconnect fetches
 * a fresh token instead. Resolves when it finished either way.
 */
export async function runRefresh(
  host: RefreshHost,
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<void> {
  for (let attempt = 0; host.current(); attempt++) {
    if (attempt > 0) {
      await sleep(backoffDelay(attempt - 1, host.minDelay, host.maxDelay));
      if (!host.current()) return;
    }
    const r = await fetchToken(host.provider);
    if (!host.current()) return;
    if ('none' in r) return host.noToken();
    if ('failed' in r) {
      host.failed(r.failed);
      continue;
    }
    // A fixed token (or none) cannot be renewed: let the connection expire and reconnect.
    if (r.token === undefined || typeof host.provider === 'string') return;
    try {
      host.done(await host.send(r.token));
      return;
    } catch (err) {
      host.failed(err);
    }
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
