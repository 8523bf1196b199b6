import type { Producer, ProducerBatch, RecordMetadata } from "kafkajs";

/** Broker answers meaning this producer's idempotence state (id, epoch, sequence numbers) is lost for good. */
const producerStateErrors = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
]);

function isProducerStateError(error: unknown): boolean {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.type === "string" && producerStateErrors.has(e.type)) return true;
  }
  return false;
}

/**
 * An idempotent producer that replaces itself when the brokers stop accepting its sequence numbers. After a
 * partition leader dies, kafkajs's idempotent producer can desynchronise from the new leader and then fails every
 * send with OUT_OF_ORDER_SEQUENCE_NUMBER for good. A new producer (a new producer id) resends the batch:
 * at-least-once allows the duplicate if the old one's write had in fact landed.
 */
export class ReplaceableProducer {
  readonly #connect: () => Promise<Producer>;
  readonly #onReplace: (error: Error) => void;
  #current: Producer;

  private constructor(
    current: Producer,
    connect: () => Promise<Producer>,
    onReplace: (error: Error) => void,
  ) {
    this.#current = current;
    this.#connect = connect;
    this.#onReplace = onReplace;
  }

  static async start(
    connect: () => Promise<Producer>,
    onReplace: (error: Error) => void,
  ): Promise<ReplaceableProducer> {
    return new ReplaceableProducer(await connect(), connect, onReplace);
  }

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    try {
      return await this.#current.sendBatch(batch);
    } catch (error) {
      if (!isProducerStateError(error)) throw error;
      this.#onReplace(error as Error);
      const stale = this.#current;
      this.#current = await this.#connect();
      await stale.disconnect().catch(() => {});
      // A second state error from a brand-new producer is not this failure: it propagates.
      return this.#current.sendBatch(batch);
    }
  }

  disconnect(): Promise<void> {
    return this.#current.disconnect();
  }
}
