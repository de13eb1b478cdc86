// Watches chat.lobby through the load balancer and prints what arrives, including which
// discontinuities (if any) the SDK reported. Kill a node while it runs: it reconnects through
// nginx to the other node and continues without a gap.
//   node examples/cluster/client.mjs ws://127.0.0.1:8080/realtime
import { connect } from 'switchyardjs/client';

const url = process.argv[2] ?? 'ws://127.0.0.1:8080/realtime';
const client = connect(url);
client.on('connected', ({ connectionId }) => console.log(`connected (${connectionId})`));
client.on('disconnected', ({ code, willReconnect }) =>
  console.log(`disconnected ${code}, reconnect: ${willReconnect}`),
);
const sub = client.subscribe('chat.lobby', (m) => console.log(`#${m.offset}`, JSON.stringify(m.data)), { qos: 1 });
sub.on('subscribed', (r) => console.log('subscribed', JSON.stringify(r)));
sub.on('discontinuity', (d) => console.log('discontinuity', JSON.stringify(d)));
