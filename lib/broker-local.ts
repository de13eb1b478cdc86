/**
 * The single-process broker: a published message goes straight back to this hub. Interest is
 * irrelevant with one node, so subscribe/unsubscribe are no-ops.
 * @module
 */
import type { Broker, BrokerMessage, BrokerSink } from './engine.js';

/** In-process {@link Broker}; the default with {@link MemoryStorage}. */
export class LocalBroker implements Broker {
  private sink: BrokerSink | undefined;

  async start(sink: BrokerSink): Promise<void> {
    this.sink = sink;
  }

  async publish(message: BrokerMessage): Promise<void> {
    this.sink?.message(message);
  }

  async subscribe(): Promise<void> {}

  async unsubscribe(): Promise<void> {}

  async close(): Promise<void> {
    this.sink = undefined;
  }
}
