// Leader election on a coordination.k8s.io Lease, so that of several operator replicas at most one acts, ever.
//
// A candidate takes the Lease when it is free, or when it has seen the Lease's record stand unchanged for a whole
// lease duration on its own monotonic clock (lease-observation.ts): the holder's wall clock, written in the Lease,
// is never compared with the candidate's. Writes carry the resourceVersion read, so a candidate whose view is
// stale, or two racing for a free Lease, are refused by the API server (409) instead of both winning.
//
// The leader renews every retryPeriod. Each renewal that succeeds keeps it leading until renewDeadline after the
// moment that renewal BEGAN: the write it made can only have reached the API server after that moment, so any
// candidate starts its wait later still, and the leader steps down (onStoppedLeading) at least leaseDuration −
// renewDeadline before anyone may take the Lease. The step-down runs on a timer of its own, so a call that hangs
// cannot hold it back, and every call is given up after requestTimeoutMs anyway. Once stepped down the elector is
// done (run() returns): the operator exits and a fresh process campaigns, as controller-runtime's managers do.
import { V1MicroTime } from "@kubernetes/client-node";
import { type ElectionClock, realElectionClock } from "./election-clock.ts";
import type { LeaseApi } from "./lease-api.ts";
import { type LeaseObservation, mayTake, observe } from "./lease-observation.ts";

export interface LeaderElectionTimings {
  /** How long a candidate waits, from when it last saw the Lease change, before it may take it. */
  leaseDurationSeconds: number;
  /** How long after a successful renewal began the leader keeps leading without another. */
  renewDeadlineMs: number;
  /** The pause between attempts to take or renew the Lease. */
  retryPeriodMs: number;
  /** Each Lease call is given up after this long. */
  requestTimeoutMs: number;
}

/** client-go's defaults, and a request timeout inside their 5 s of slack. */
export const defaultElectionTimings: LeaderElectionTimings = {
  leaseDurationSeconds: 15,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  requestTimeoutMs: 4_000,
};

export interface LeaderElectionOptions extends LeaderElectionTimings {
  lease: LeaseApi;
  /** The Lease's name, for the log. */
  name: string;
  identity: string;
  onStartedLeading: () => void;
  /** Called when leadership is lost; the caller must stop acting at once. Not called by stop(). */
  onStoppedLeading: () => void;
  log: (message: string, fields?: Record<string, unknown>) => void;
  clock?: ElectionClock;
}

/** Pure: what is wrong with `timings`, one sentence each naming the setting; empty when they are safe. */
export function electionTimingProblems(timings: LeaderElectionTimings): string[] {
  const { leaseDurationSeconds, renewDeadlineMs, retryPeriodMs, requestTimeoutMs } = timings;
  const problems: string[] = [];
  if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 1) {
    problems.push(
      `leaseDurationSeconds must be a whole number of seconds, at least 1, got ${leaseDurationSeconds}`,
    );
  }
  for (const [name, value] of Object.entries({ renewDeadlineMs, retryPeriodMs, requestTimeoutMs })) {
    if (!Number.isFinite(value) || value <= 0)
      problems.push(`${name} must be a positive number, got ${value}`);
  }
  const leaseDurationMs = leaseDurationSeconds * 1000;
  if (!(renewDeadlineMs < leaseDurationMs)) {
    problems.push(
      `renewDeadlineMs (${renewDeadlineMs}) must be less than leaseDurationSeconds (${leaseDurationMs} ms): a leader must stop before a candidate may take the Lease`,
    );
  }
  if (!(retryPeriodMs < renewDeadlineMs)) {
    problems.push(
      `retryPeriodMs (${retryPeriodMs}) must be less than renewDeadlineMs (${renewDeadlineMs}): a leader must get to retry a failed renewal before its deadline`,
    );
  }
  const slackMs = leaseDurationMs - renewDeadlineMs;
  if (!(requestTimeoutMs < slackMs)) {
    problems.push(
      `requestTimeoutMs (${requestTimeoutMs}) must be less than leaseDurationSeconds - renewDeadlineMs (${slackMs} ms): a call must be given up while the Lease is still the leader's`,
    );
  }
  return problems;
}

export class LeaderElector {
  readonly #clock: ElectionClock;
  #observation: LeaseObservation | undefined;
  /** Monotonic ms until which this replica leads; undefined while it does not. */
  #leadingUntil: number | undefined;
  #cancelStepDown: () => void = () => {};
  /** Aborted by stop() or a step-down: ends the campaign's sleep and its calls in flight. */
  readonly #ended = new AbortController();
  #campaign: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    const problems = electionTimingProblems(options);
    if (problems.length > 0) throw new Error(`leader election: ${problems.join("; ")}`);
    this.#clock = options.clock ?? realElectionClock;
  }

  /** True only while a renewal proves the Lease ours, even if the step-down timer has not fired yet. */
  get isLeader(): boolean {
    return this.#leadingUntil !== undefined && this.#clock.monotonic() < this.#leadingUntil;
  }

  /** Campaigns, then renews while leading; returns once stopped or stepped down. */
  run(): Promise<void> {
    this.#campaign ??= this.#run();
    return this.#campaign;
  }

  /**
   * Stops campaigning and, if leading, hands the Lease back so a successor need not wait for it to expire. The
   * caller stops acting before calling this: onStoppedLeading is not called.
   */
  async stop(): Promise<void> {
    const wasLeading = this.#leadingUntil !== undefined;
    this.#leadingUntil = undefined;
    this.#cancelStepDown();
    this.#ended.abort();
    await this.#campaign;
    if (wasLeading) await this.#release();
  }

  async #run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs, identity } = this.options;
    while (!this.#ended.signal.aborted) {
      const began = this.#clock.monotonic();
      const written = await this.#tryAcquireOrRenew().catch((error: Error) => {
        if (!this.#ended.signal.aborted) this.options.log("lease update failed", { error: error.message });
        return false;
      });
      if (this.#ended.signal.aborted) return;
      if (written) this.#leadUntil(began + renewDeadlineMs);
      else if (this.#leadingUntil !== undefined && this.#observation?.holder !== identity) {
        this.#stepDown({ holder: this.#observation?.holder });
        return;
      }
      await this.#clock.sleep(retryPeriodMs, this.#ended.signal);
    }
  }

  #leadUntil(deadline: number): void {
    const remainingMs = deadline - this.#clock.monotonic();
    if (remainingMs <= 0) return; // a renewal answered after its own deadline proves nothing
    const starting = this.#leadingUntil === undefined;
    this.#leadingUntil = deadline;
    this.#cancelStepDown();
    this.#cancelStepDown = this.#clock.schedule(
      () => this.#stepDown({ renewDeadlineMs: this.options.renewDeadlineMs }),
      remainingMs,
    );
    if (starting) {
      this.options.log("became leader", { lease: this.options.name });
      this.options.onStartedLeading();
    }
  }

  #stepDown(why: Record<string, unknown>): void {
    if (this.#leadingUntil === undefined) return;
    this.#leadingUntil = undefined;
    this.#cancelStepDown();
    this.#ended.abort();
    this.options.log("stopped leading: the Lease could not be renewed in time or another holds it", {
      lease: this.options.name,
      ...why,
    });
    this.options.onStoppedLeading();
  }

  /** `call` with a signal aborted after requestTimeoutMs, or sooner when `until` aborts. */
  async #bounded<T>(call: (signal: AbortSignal) => Promise<T>, until?: AbortSignal): Promise<T> {
    const { requestTimeoutMs } = this.options;
    const controller = new AbortController();
    const cancelTimeout = this.#clock.schedule(
      () => controller.abort(new Error(`no answer within requestTimeoutMs (${requestTimeoutMs} ms)`)),
      requestTimeoutMs,
    );
    const abandon = () => controller.abort(new Error("leader election ended"));
    until?.addEventListener("abort", abandon, { once: true });
    if (until?.aborted) abandon();
    try {
      return await call(controller.signal);
    } finally {
      cancelTimeout();
      until?.removeEventListener("abort", abandon);
    }
  }

  /** True when this replica wrote itself into the Lease. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { lease: api, identity, leaseDurationSeconds } = this.options;
    const lease = await this.#bounded((signal) => api.read(signal), this.#ended.signal);
    const now = new V1MicroTime(this.#clock.wall());
    if (lease === undefined) {
      const spec = {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      };
      return this.#bounded(
        (signal) =>
          api.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: {}, spec }, signal),
        this.#ended.signal,
      );
    }
    this.#observation = observe(this.#observation, lease, this.#clock.monotonic());
    if (!mayTake(this.#observation, identity, leaseDurationSeconds * 1000, this.#clock.monotonic()))
      return false;
    const taking = this.#observation.holder !== identity;
    const spec = {
      ...lease.spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(taking ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } : {}),
    };
    return this.#bounded((signal) => api.replace({ ...lease, spec }, signal), this.#ended.signal);
  }

  async #release(): Promise<void> {
    const { lease: api, identity } = this.options;
    try {
      const lease = await this.#bounded((signal) => api.read(signal));
      if (lease?.spec?.holderIdentity !== identity) return;
      const now = new V1MicroTime(this.#clock.wall());
      const spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now };
      await this.#bounded((signal) => api.replace({ ...lease, spec }, signal));
    } catch (error) {
      this.options.log("releasing the lease failed; a successor takes it once it expires", {
        error: (error as Error).message,
      });
    }
  }
}
