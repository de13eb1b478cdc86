/**
 * switchyard: an embeddable realtime messaging backbone for Node.js backends.
 *
 * ```ts
 * import { Switchyard } from 'switchyardjs';
 * import { attach } from 'switchyardjs/http';
 * const hub = new Switchyard();
 * attach(hub, server, { path: '/realtime' });
 * await hub.publish('chat.lobby', { text: 'hi' });
 * ```
 * @module switchyard
 */
export { Switchyard } from './hub.js';
export type { AuthOutcome, HistoryPage, HistoryQuery, HubEvents, PresenceQuery, PublishOptions } from './hub.js';
export {
  escapeLabelValue,
  metricFamilies,
  prometheusText,
  type HubCounters,
  type HubMetrics,
  type MetricFamily,
  type MetricSample,
} from './metrics.js';
export {
  DIAGNOSTICS,
  type EventLoopDelay,
  type FamilyCounters,
  type LatencyMetrics,
  type MetricsOptions,
  type RecentError,
} from './instruments.js';
export { LATENCY_BUCKETS, COUNT_BUCKETS, BYTE_BUCKETS, quantile, type HistogramSnapshot } from './histogram.js';
export type { ChannelStatus, ConnectionStatus, HubStatus } from './status.js';
export { NODES_CHANNEL, ANNOUNCE_INTERVAL_MS, type NodeInfo } from './nodes.js';
export type {
  AuthorizeRequest,
  AuthResult,
  ChannelRule,
  HistoryOptions,
  Limits,
  Logger,
  SwitchyardOptions,
} from './options.js';
export { DEFAULT_HISTORY, DEFAULT_LIMITS } from './options.js';
export { ERRORS, SwitchyardError, errorName } from './errors.js';
export type { ErrorCode, ErrorInfo, ErrorName } from './errors.js';
export { CLOSE, shouldReconnect, capCloseReason, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
export type { CloseName } from './close-codes.js';
export { checkChannel, isPattern, MAX_CHANNEL_BYTES } from './channel-name.js';
export { PROTOCOL_VERSION, SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from './protocol.js';
export type * from './protocol.js';
export type * from './engine.js';
export type { AuthRequest, ConnectionInput, OutgoingFrame, Transport } from './transport.js';
export { MemoryStorage, type MemoryStorageOptions } from './history-memory.js';
export { LocalBroker } from './broker-local.js';
export { memoryEngine } from './engine-memory.js';
export { MemoryPresence } from './presence-memory.js';
export { Router } from './router.js';
export {
  grant,
  AuthGrant,
  MAX_SERVER_CHANNELS,
  type GrantOptions,
  type Identity,
  type ServerChannel,
} from './grant.js';
export type { RefreshRequest } from './refresh.js';
export type { PresenceUser, PresenceUsersResult } from './user-presence.js';
export { validateFrame, type FrameCheck, type FrameLimits, type FrameRejection } from './validate.js';
