// Leader election on a coordination.k8s.io Lease, so that of several operator replicas exactly one acts.
// A candidate takes the Lease when it is free or its holder has not renewed it within leaseDuration; the
// leader renews every retryPeriod and, if it cannot renew within renewDeadline, steps down by calling
// onStoppedLeading (the operator then exits, as controller-runtime's managers do, so nothing acts on a
// Lease it no longer holds). Writes carry the resourceVersion read, so two candidates racing for the same
// free Lease cannot both win: the API server rejects the second write with 409.
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { type ElectionClock, realElectionClock } from "./election-clock.ts";
import type { LeaseApi } from "./lease-api.ts";

export interface LeaderElectionOptions {
  lease: LeaseApi;
  /** The Lease's name, for the log. */
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: (message: string, fields?: Record<string, unknown>) => void;
  clock?: ElectionClock;
}

function timeOf(value: Date | string | undefined): number {
  return value === undefined ? 0 : new Date(value).getTime();
}

/** Pure: may `identity` take or keep `lease` at `now`? */
export function canAcquire(lease: V1Lease | undefined, identity: string, now: number): boolean {
  const spec = lease?.spec;
  if (spec?.holderIdentity === undefined || spec.holderIdentity === "" || spec.holderIdentity === identity) {
    return true;
  }
  const expiresAt = timeOf(spec.renewTime ?? spec.acquireTime) + (spec.leaseDurationSeconds ?? 0) * 1000;
  return now > expiresAt;
}

export class LeaderElector {
  #leading = false;
  #stopped = false;
  readonly #clock: ElectionClock;
  readonly #never = new AbortController().signal;

  constructor(private readonly options: LeaderElectionOptions) {
    this.#clock = options.clock ?? realElectionClock;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Runs until stop(): campaigns, then renews while leading. */
  async run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.options;
    let lastRenewal = 0;
    while (!this.#stopped) {
      const held = await this.#tryAcquireOrRenew().catch((error: Error) => {
        this.options.log("lease update failed", { error: error.message });
        return false;
      });
      const now = this.#clock.wall();
      if (held) {
        lastRenewal = now;
        if (!this.#leading) {
          this.#leading = true;
          this.options.log("became leader", { lease: this.options.name });
          this.options.onStartedLeading();
        }
      } else if (this.#leading && now - lastRenewal > renewDeadlineMs) {
        this.#leading = false;
        this.options.log("lost the lease", { lease: this.options.name });
        this.options.onStoppedLeading();
      }
      if (this.#stopped) break;
      await this.#clock.sleep(retryPeriodMs, this.#never);
    }
  }

  /** Stops campaigning; a leader hands the Lease back so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (!this.#leading) return;
    this.#leading = false;
    const { lease: api, identity } = this.options;
    const lease = await api.read(this.#never).catch(() => undefined);
    if (lease?.spec?.holderIdentity !== identity) return;
    lease.spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 };
    await api.replace(lease, this.#never).catch(() => undefined);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { lease: api, name, identity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime(this.#clock.wall());
    const lease = await api.read(this.#never);
    if (!canAcquire(lease, identity, now.getTime())) return false;
    const taking = lease?.spec?.holderIdentity !== identity;
    const spec = {
      ...lease?.spec,
      holderIdentity: identity,
      leaseDurationSeconds,
      renewTime: now,
      ...(taking
        ? {
            acquireTime: now,
            leaseTransitions: lease === undefined ? 0 : (lease.spec?.leaseTransitions ?? 0) + 1,
          }
        : {}),
    };
    // false: someone else wrote the Lease between our read and write; they hold it for now.
    return lease === undefined
      ? api.create(
          { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name }, spec },
          this.#never,
        )
      : api.replace({ ...lease, spec }, this.#never);
  }
}
