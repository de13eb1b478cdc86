/**
 * `ClientError` and the client-side codes it can carry. A `ClientError` carries either a server
 * code from the registry (docs/errors.md, 100–299: the server answered with an error), a terminal
 * close code (the client stopped), or one of the {@link CLIENT_ERROR} codes below, which the SDK
 * raises itself. docs/errors.md § Client SDK errors lists them; test/errors-registry.test.ts keeps
 * that table and this one in sync.
 * @module
 */

// One constant per code (the bundler inlines them), gathered in the documented table below.
export const NO_ANSWER = 0;
export const CLOSED = 1000;
export const BAD_SERVER_FRAME = 1002;
export const CONNECTION_LOST = 1006;

/** The codes the client SDK raises itself (the numbers are fixed; the names are for reading code). */
export const CLIENT_ERROR = {
  /**
   * The request never got an answer from a connection: it timed out (`timeout`,
   * `publishTimeout`), waited longer than `timeout` for a connection, the offline queue was full,
   * or the client was already closed; the message says which.
   */
  NO_ANSWER,
  /** `client.close()` was called while the request was pending (RFC 6455 normal closure). */
  CLOSED,
  /**
   * A frame from the server did not match the protocol (not JSON, unknown op, a required field
   * missing or of the wrong type). Reported on the client's `error` event; the client closes the
   * connection with this code (RFC 6455 "protocol error") and reconnects with backoff.
   */
  BAD_SERVER_FRAME,
  /** The connection closed (or could not be opened) before the reply arrived; the client reconnects. */
  CONNECTION_LOST,
} as const;

/** Names of the codes in {@link CLIENT_ERROR}. */
export type ClientErrorName = keyof typeof CLIENT_ERROR;

/** An error of the client SDK: `code` is a registry code, a close code or a {@link CLIENT_ERROR} code. */
export class ClientError extends Error {
  // Declared, not a parameter property: no class-field helper in the browser bundle.
  declare readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
    this.name = 'ClientError';
  }
}

/** Whether an error is the server's refusal (a registry code) rather than a lost connection or timeout. */
export function isRefusal(err: unknown): err is ClientError {
  return err instanceof ClientError && err.code >= 100 && err.code < 1000;
}
