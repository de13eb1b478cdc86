/**
 * Types of the hub's public API: its events and the options and results of its calls.
 * @module
 */
import type { Position } from './engine.js';

/** Events a hub emits. */
export interface HubEvents {
  /** A client connected (after authentication). */
  connection: (info: { id: string; user: unknown }) => void;
  /** A client disconnected. */
  disconnect: (info: { id: string; code: number }) => void;
  /** The hub finished closing. */
  close: () => void;
}

/** Options of `hub.publish()`. */
export interface PublishOptions {
  /** Makes the publish idempotent: a repeat with the same key inside the de-duplication window stores nothing and returns the first offset. */
  idempotencyKey?: string;
}

/** Options of `hub.history()`. */
export interface HistoryQuery<User = unknown> {
  /** Return messages after this position (default: the latest `limit` messages). */
  since?: Position;
  /** Most messages to return (default 100, at most `limits.maxHistoryLimit`). */
  limit?: number;
  /**
   * Read on behalf of this user (e.g. in an HTTP route serving a logged-in user): the `authorize`
   * hook runs with action `history` and this user, and a denial rejects with 107 FORBIDDEN.
   * Without it the read is the server's own and is not authorized.
   */
  asUser?: User;
}

/** Options of `hub.presence()`. */
export interface PresenceQuery<User = unknown> {
  /**
   * Ask on behalf of this user: the `authorize` hook runs with action `presence` and this user,
   * and a denial rejects with 107 FORBIDDEN. Without it the read is the server's own.
   */
  asUser?: User;
}

/** A history read on the server. */
export interface HistoryPage {
  messages: Array<{ offset: number; data: unknown }>;
  position: Position;
  /** False when `since` was given but history no longer covers it; messages then start at the oldest kept. */
  complete: boolean;
}
