// Leader election on a coordination.k8s.io Lease, so that of several operator replicas exactly one acts.
// A candidate takes the Lease when it is free or its holder has not renewed it within leaseDuration; the
// leader renews every retryPeriod and, if it cannot renew within renewDeadline, steps down by calling
// onStoppedLeading (the operator then exits, as controller-runtime's managers do, so nothing acts on a
// Lease it no longer holds). Writes carry the resourceVersion read, so two candidates racing for the same
// free Lease cannot both win: the API server rejects the second write with 409.
import { setTimeout as sleep } from "node:timers/promises";
import { ApiException, type CoordinationV1Api, type V1Lease, V1MicroTime } from "@kubernetes/client-node";

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: (message: string, fields?: Record<string, unknown>) => void;
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

  constructor(private readonly options: LeaderElectionOptions) {}

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
      const now = Date.now();
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
      await sleep(retryPeriodMs);
    }
  }

  /** Stops campaigning; a leader hands the Lease back so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (!this.#leading) return;
    this.#leading = false;
    const { api, namespace, name, identity } = this.options;
    const lease = await api.readNamespacedLease({ name, namespace }).catch(() => undefined);
    if (lease?.spec?.holderIdentity !== identity) return;
    lease.spec = { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 };
    await api.replaceNamespacedLease({ name, namespace, body: lease }).catch(() => undefined);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = new V1MicroTime();
    let lease: V1Lease | undefined;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!(error instanceof ApiException) || error.code !== 404) throw error;
    }
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
    try {
      if (lease === undefined) {
        await api.createNamespacedLease({
          namespace,
          body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec },
        });
      } else {
        await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec } });
      }
      return true;
    } catch (error) {
      // Someone else wrote the Lease between our read and write: they hold it for now.
      if (error instanceof ApiException && (error.code === 409 || error.code === 422)) return false;
      throw error;
    }
  }
}
