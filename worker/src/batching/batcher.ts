// The queue the model runs behind: requests from every partition wait here and leave in batches, because a model
// run costs far more per call than per input. When a batch closes, and how big, is decide-batch.ts's.
import { type BatchPolicy, decideBatch } from "./decide-batch.ts";

interface Pending<T, R> {
  item: T;
  arrivedAt: number;
  resolve: (result: R) => void;
  reject: (error: Error) => void;
}

export type BatchHandler<T, R> = (items: T[]) => Promise<R[]>;

/**
 * Dynamic batching: inputs submitted from anywhere (every partition) are grouped into batches closed by size or
 * by wait time, as decideBatch says. Each submit resolves with its own result; a handler that does not return
 * exactly one result per input fails the whole batch rather than mismatching results.
 */
export class Batcher<T, R> {
  readonly #queue: Pending<T, R>[] = [];
  readonly #policy: BatchPolicy;
  readonly #handler: BatchHandler<T, R>;
  readonly #clock: () => number;
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    policy: BatchPolicy,
    handler: BatchHandler<T, R>,
    clock: () => number = performance.now.bind(performance),
  ) {
    this.#policy = policy;
    this.#handler = handler;
    this.#clock = clock;
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, arrivedAt: this.#clock(), resolve, reject });
      // Inputs submitted in the same event-loop turn (every partition of a fetch) are all queued before the
      // first decision.
      if (this.#queue.length === 1) setImmediate(() => this.#pump());
      else if (this.#queue.length >= this.#policy.maxSize) this.#pump();
    });
  }

  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (;;) {
      const decision = decideBatch(
        {
          queued: this.#queue.length,
          oldestArrivedAt: this.#queue[0]?.arrivedAt ?? 0,
          inFlight: this.#inFlight,
        },
        this.#clock(),
        this.#policy,
      );
      if (decision.kind === "idle") return;
      if (decision.kind === "wait") {
        this.#timer = setTimeout(() => this.#pump(), decision.ms);
        return;
      }
      for (const size of decision.sizes) void this.#run(this.#queue.splice(0, size));
    }
  }

  async #run(batch: Pending<T, R>[]): Promise<void> {
    this.#inFlight++;
    try {
      const results = await this.#handler(batch.map((pending) => pending.item));
      if (results.length !== batch.length) {
        throw new Error(`batch handler returned ${results.length} results for ${batch.length} inputs`);
      }
      for (const [index, pending] of batch.entries()) pending.resolve(results[index] as R);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const pending of batch) pending.reject(failure);
    } finally {
      this.#inFlight--;
      this.#pump();
    }
  }
}
