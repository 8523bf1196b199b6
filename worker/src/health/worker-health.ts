// The worker's one answer to the kubelet's probes, from the facts the consume loop reports here. Live: the worker
// can still make progress (its consumer will be restarted, no write failed for good); false restarts the pod.
// Ready: it is in its consumer group, not stopping, and its circuit breaker closed (the model answered its last
// run, or its trial); false takes it out of the Service's endpoints.
//
// A model outage, however long, leaves the worker live: the breaker keeps trying the model (every reset timeout
// a half-open trial on freshly fetched input), so the worker recovers by itself the moment the model does, and a
// restart would only reload the same model and add crash-loop back-off to the recovery. The outage shows as
// not ready, the breaker-state metric and its alert.
import type { Probes } from "../../../common/src/probe-server.ts";
import type { BreakerState } from "../resilience/breaker-transitions.ts";

export class WorkerHealth implements Probes {
  readonly #breaker: { readonly state: BreakerState };
  #inGroup = false;
  #crashedForGood = false;
  #stopping = false;
  #failure: Error | undefined;

  constructor(breaker: { readonly state: BreakerState }) {
    this.#breaker = breaker;
  }

  /** Why the worker stopped consuming for good, if it did: its process should be restarted. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Whether a graceful stop has begun. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** The consumer joined its group (again after each rebalance). */
  joinedGroup(): void {
    this.#inGroup = true;
  }

  /** The consumer crashed; kafkajs restarts it unless `restart` is false. */
  consumerCrashed(restart: boolean): void {
    this.#inGroup = false;
    this.#crashedForGood = !restart;
  }

  /** A graceful stop began: the worker leaves readiness at once. */
  beginStopping(): void {
    this.#stopping = true;
  }

  /** Writing results failed for good; the first failure is the one kept. */
  writesFailed(error: Error): void {
    this.#failure ??= error;
  }

  live(): boolean {
    return !this.#crashedForGood && this.#failure === undefined;
  }

  ready(): boolean {
    return this.#inGroup && !this.#stopping && this.#breaker.state === "closed";
  }
}
