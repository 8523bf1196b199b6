// Connecting the worker's producer at start: kafkajs alone gives up when the broker it asks is down, so a worker
// starting while a broker dies would exit; here it tries again with a fresh producer.
import { setTimeout as sleep } from "node:timers/promises";
import { type BackoffPolicy, backoffDelayMs } from "./resilience/backoff.ts";

interface Connectable {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface ConnectRetry {
  attempts: number;
  backoff: BackoffPolicy;
  onRetry: (error: Error, attempt: number) => void;
}

/**
 * Connects a fresh producer from `create`, again with a new one while the failure is retriable. An idempotent
 * kafkajs producer asks the controller it knows for its producer id and gives up at once when that broker is
 * down (kafkajs does not refresh its metadata on that connection error), so a worker starting while a broker dies
 * would exit; a new producer fetches new metadata and asks a live broker.
 */
export async function connectProducer<P extends Connectable>(
  create: () => P,
  retry: ConnectRetry,
): Promise<P> {
  for (let attempt = 1; ; attempt++) {
    const producer = create();
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      await producer.disconnect().catch(() => {});
      const retriable = (error as { retriable?: unknown }).retriable === true;
      if (!retriable || attempt >= retry.attempts) throw error;
      retry.onRetry(error as Error, attempt);
      await sleep(backoffDelayMs(attempt, retry.backoff));
    }
  }
}
