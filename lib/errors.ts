/**
 * The one registry of switchyard error codes. Every error frame, HTTP API error and thrown
 * {@link SwitchyardError} carries one of these codes. `docs/errors.md` documents the same table;
 * `test/errors-registry.test.ts` fails when the two disagree. Retired codes are never reused.
 * @module
 */

/** One entry of the error registry. */
export interface ErrorInfo {
  /** Numeric code sent on the wire. */
  readonly code: number;
  /** What went wrong, in one line. */
  readonly message: string;
  /** How to solve it. */
  readonly solve: string;
}

/**
 * Error codes by name. Codes 100–199 are the client's fault (fix the request), 200–299 are
 * the server's or its backend's (retrying later may succeed).
 */
export const ERRORS = {
  BAD_JSON: {
    code: 100,
    message: 'frame is not valid JSON text',
    solve: 'Send each frame as one UTF-8 JSON object in a text WebSocket message.',
  },
  BAD_FRAME: {
    code: 101,
    message: 'frame does not match the protocol',
    solve: 'Check the frame against docs/protocol.md; the error message names the rule ID that failed.',
  },
  UNKNOWN_OP: {
    code: 102,
    message: 'unknown frame op',
    solve: 'Use one of the ops listed in docs/protocol.md (sub, unsub, pub, ack, hist, presence, refresh, pong).',
  },
  BAD_CHANNEL: {
    code: 103,
    message: 'invalid channel name',
    solve:
      'Channel names are 1–255 bytes of [A-Za-z0-9_-:@=] segments separated by "."; patterns may use "*" and a final ">".',
  },
  MESSAGE_TOO_LARGE: {
    code: 104,
    message: 'message exceeds limits.maxMessageBytes',
    solve: 'Send smaller messages or raise limits.maxMessageBytes on the server.',
  },
  TOO_MANY_CHANNELS: {
    code: 105,
    message: 'connection has too many subscriptions',
    solve: 'Unsubscribe from channels you no longer need, use a pattern, or raise limits.maxChannelsPerConnection.',
  },
  RATE_LIMITED: {
    code: 106,
    message: 'publish rate limit exceeded',
    solve:
      'Publish less often from one connection, batch data into fewer messages, or raise limits.publishesPerSecond. Nothing was stored: retry after the bucket refills (the rate is `pr` in `welcome`; the SDK does for QoS 1).',
  },
  FORBIDDEN: {
    code: 107,
    message: 'not authorized for this channel',
    solve: 'The authorize hook denied the request; check the user and channel it received.',
  },
  PUBLISH_DISABLED: {
    code: 108,
    message: 'clients may not publish to this channel',
    solve: 'Add a channel rule with clientPublish: true for this channel pattern, or publish from the server.',
  },
  ALREADY_SUBSCRIBED: {
    code: 109,
    message: 'already subscribed to this channel on this connection',
    solve: 'Unsubscribe first, or reuse the existing subscription.',
  },
  NOT_SUBSCRIBED: {
    code: 110,
    message: 'not subscribed to this channel',
    solve: 'Only ack or unsubscribe channels this connection subscribed to.',
  },
  BINARY_NOT_SUPPORTED: {
    code: 111,
    message: 'binary frames are not part of protocol v1',
    solve: 'Send JSON text frames.',
  },
  HISTORY_DISABLED: {
    code: 112,
    message: 'channel keeps no history',
    solve:
      'Enable history for the channel pattern (channels[].history) to use recovery, history reads or QoS 1 delivery.',
  },
  QOS_UNSUPPORTED: {
    code: 113,
    message: 'QoS 1 delivery and recovery need an exact channel',
    solve: 'Subscribe to exact channel names for QoS 1 or recovery; patterns are delivered live at QoS 0.',
  },
  DUPLICATE_REQUEST_ID: {
    code: 114,
    message: 'a request with this id is still pending',
    solve: 'Use a new id for every request on a connection.',
  },
  UNAUTHORIZED: {
    code: 115,
    message: 'missing or wrong API key',
    solve:
      'Send the HTTP API key as "Authorization: Bearer <key>" or "X-Api-Key: <key>"; it must match the apiKey option the server mounted the API with.',
  },
  NOT_FOUND: {
    code: 116,
    message: 'no such HTTP API endpoint or method',
    solve:
      'Use one of the endpoints and methods listed in docs/http-api.md (POST publish, POST batch, GET history, GET channels, GET health).',
  },
  PRESENCE_DISABLED: {
    code: 117,
    message: 'channel does not track presence',
    solve:
      'Add a channel rule with presence: true for this channel pattern; presence works on exact channel names only.',
  },
  TOO_MANY_PATTERNS: {
    code: 118,
    message: 'connection has too many pattern subscriptions',
    solve:
      'Unsubscribe patterns you no longer need, subscribe to exact channels, or raise limits.maxPatternsPerConnection.',
  },
  HUB_PATTERNS_FULL: {
    code: 119,
    message: 'the hub has as many distinct patterns as limits.maxPatternsPerHub',
    solve:
      'Subscribe to a pattern already in use or to exact channels, or raise limits.maxPatternsPerHub (each distinct pattern adds a short scan to every publish; see bench/patterns.ts).',
  },
  TOKEN_REJECTED: {
    code: 120,
    message: 'refresh token not accepted',
    solve:
      'The refresh (or authenticate) hook refused the token sent in a refresh frame, threw, or took longer than limits.authTimeout. The SDK calls token() again with backoff until the connection expires (3010) and then reconnects; make token() return a currently valid token.',
  },
  SUBSCRIPTION_REVOKED: {
    code: 121,
    message: 'subscription ended: no longer authorized',
    solve:
      'After a token refresh or hub.refreshUser() the authorize hook denied this subscription (or its server-side channel was withdrawn); subscribe again only once the user is allowed.',
  },
  UNSUBSCRIBED_BY_SERVER: {
    code: 122,
    message: 'subscription ended by the server',
    solve:
      'The application called hub.unsubscribe() for this user and channel; subscribe again only if the server allows it.',
  },
  JWT_INVALID: {
    code: 130,
    message: 'token is not a valid JWT',
    solve:
      "Send a compact JWS (three base64url parts) signed by your backend; check that the client's token() returns the whole token.",
  },
  JWT_ALG_NOT_ALLOWED: {
    code: 131,
    message: 'token algorithm not allowed',
    solve:
      'The token\'s alg is "none" or not in the algorithms allow-list given to jwtAuth(); sign with an allowed algorithm.',
  },
  JWT_EXPIRED: {
    code: 132,
    message: 'token expired',
    solve: 'The exp claim is in the past (beyond clockTolerance); have token() fetch a fresh token.',
  },
  JWT_NOT_YET_VALID: {
    code: 133,
    message: 'token not yet valid',
    solve:
      "The nbf (or iat) claim is in the future beyond clockTolerance; check the signer's clock or raise clockTolerance.",
  },
  JWT_WRONG_AUDIENCE: {
    code: 134,
    message: 'token audience mismatch',
    solve: 'The aud claim does not name the audience given to jwtAuth(); mint the token for this service.',
  },
  JWT_WRONG_ISSUER: {
    code: 135,
    message: 'token issuer mismatch',
    solve: 'The iss claim is not the issuer given to jwtAuth(); mint the token with the expected issuer.',
  },
  JWT_BAD_SIGNATURE: {
    code: 136,
    message: 'token signature does not verify',
    solve:
      'The token was signed with another key (or the key id is not in the JWKS); check the key, or wait for the JWKS to list a rotated key.',
  },
  JWT_BAD_CLAIMS: {
    code: 137,
    message: 'token claims malformed',
    solve:
      'A required claim (sub, exp) is missing, or the channels or capabilities claim has the wrong shape; the message names the claim.',
  },
  BAD_OPTIONS: {
    code: 150,
    message: 'invalid option',
    solve: 'The error message names the option and the accepted values; fix the call.',
  },
  INTERNAL: {
    code: 200,
    message: 'internal server error',
    solve: 'A hook or engine threw; the server log has the cause. Retry later.',
  },
  ENGINE_UNAVAILABLE: {
    code: 201,
    message: 'storage or broker backend unavailable',
    solve:
      'The request was not acknowledged; a publish may or may not have been stored. Retry with the same idempotency key (the SDK does for QoS 1) when the backend (e.g. Redis) is back.',
  },
  SHUTTING_DOWN: {
    code: 202,
    message: 'hub is closing',
    solve: 'Reconnect to another node or after the restart.',
  },
} as const satisfies Record<string, ErrorInfo>;

/** The symbolic name of an error, e.g. `'FORBIDDEN'`. */
export type ErrorName = keyof typeof ERRORS;
/** A numeric error code, e.g. `107`. */
export type ErrorCode = (typeof ERRORS)[ErrorName]['code'];

const BY_CODE = new Map<number, ErrorName>(
  (Object.keys(ERRORS) as ErrorName[]).map((name) => [ERRORS[name].code, name]),
);

/** Looks up the name of a numeric code; `undefined` when the code is not in the registry. */
export function errorName(code: number): ErrorName | undefined {
  return BY_CODE.get(code);
}

/**
 * The error type switchyard throws and rejects with. `code` is the numeric registry code and
 * `name` stays `'SwitchyardError'` so `instanceof` and logging both work.
 */
export class SwitchyardError extends Error {
  /** Numeric registry code. */
  readonly code: number;
  /** Symbolic registry name, e.g. `'FORBIDDEN'`. */
  readonly reason: ErrorName;

  constructor(reason: ErrorName, detail?: string) {
    super(detail ? `${ERRORS[reason].message}: ${detail}` : ERRORS[reason].message);
    this.name = 'SwitchyardError';
    this.code = ERRORS[reason].code;
    this.reason = reason;
  }
}

/** Builds an options error that names the option and says what to do instead. */
export function optionError(path: string, expected: string, got: unknown): SwitchyardError {
  let shown: string;
  try {
    shown = typeof got === 'function' ? 'a function' : (JSON.stringify(got) ?? String(got));
  } catch {
    shown = typeof got;
  }
  if (shown.length > 60) shown = shown.slice(0, 57) + '...';
  return new SwitchyardError('BAD_OPTIONS', `${path} must be ${expected} (got ${shown})`);
}

/** The message of anything thrown, for structured logs (hooks may throw non-Errors). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
