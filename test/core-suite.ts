// `npm run test:core`: the core tests in one process, so a change to the hub can be checked in
// seconds rather than minutes. A file belongs here when it needs no build, no Redis, PostgreSQL or
// Chromium and no real socket (the hub over test/helpers/fake-transport.ts and the in-memory
// engine). Left out on purpose: guarantees/seam.test.ts (600 randomized resume races, ~10-30 s),
// and everything over real sockets or services. `npm test` runs every file, these included, on its own.
import './adapters/prometheus.test.js';
import './architecture.test.js';
import './client/ack-batcher.test.js';
import './client/client-transport.test.js';
import './client/decode.test.js';
import './client/endpoints.test.js';
import './client/outbox.test.js';
import './client/requests.test.js';
import './client/transport-websocket.test.js';
import './close-codes.test.js';
import './conformance/memory.test.js';
import './errors-registry.test.js';
import './guarantees/bus-order.test.js';
import './guarantees/epoch-reset.test.js';
import './guarantees/flow-control.test.js';
import './guarantees/memory-storage.test.js';
import './guarantees/recheck-per-channel.test.js';
import './guarantees/recovery-table.test.js';
import './hub.test.js';
import './identity-units.test.js';
import './limits.test.js';
import './loadtest/checker.test.js';
import './malformed-frames.test.js';
import './metrics-latency.test.js';
import './metrics.test.js';
import './presence.test.js';
import './recovery.test.js';
import './router.test.js';
import './small-helpers.test.js';
import './subscribe-cancelled.test.js';
