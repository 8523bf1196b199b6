// When a candidate may take a Lease, judged as client-go judges it: not by the times written in the Lease (the
// holder's wall clock, which may be hours off the candidate's) but by how long the candidate itself has seen the
// record unchanged, on its own monotonic clock. A holder that renews changes the record, and every change restarts
// the wait; only a record left as it was for a whole lease duration is a holder that has stopped.
import type { V1Lease } from "@kubernetes/client-node";

/** What a candidate last saw of the Lease, and when it first saw it so, on its monotonic clock. */
export interface LeaseObservation {
  /** The record compared as a whole: any write changes it, at least its resourceVersion. */
  record: string;
  /** Empty when nobody holds the Lease. */
  holder: string;
  /** How long the holder promised to keep the Lease without renewing it. */
  durationMs: number;
  /** Monotonic ms at which this record was first seen. */
  since: number;
}

const timeOf = (value: Date | undefined) => (value === undefined ? null : new Date(value).getTime());

function recordOf(lease: V1Lease): string {
  const spec = lease.spec;
  return JSON.stringify([
    lease.metadata?.resourceVersion ?? null,
    spec?.holderIdentity ?? "",
    timeOf(spec?.renewTime),
    timeOf(spec?.acquireTime),
    spec?.leaseTransitions ?? null,
    spec?.leaseDurationSeconds ?? null,
  ]);
}

/** Pure: the observation after reading `lease` at monotonic `now`; a record seen before keeps its first sighting. */
export function observe(
  previous: LeaseObservation | undefined,
  lease: V1Lease,
  now: number,
): LeaseObservation {
  const record = recordOf(lease);
  if (previous?.record === record) return previous;
  return {
    record,
    holder: lease.spec?.holderIdentity ?? "",
    durationMs: (lease.spec?.leaseDurationSeconds ?? 0) * 1000,
    since: now,
  };
}

/**
 * Pure: may `identity` write itself into the Lease as observed, at monotonic `now`? A free Lease or its own, at
 * once; another's only once the record has stood unchanged for longer than the holder's lease duration or ours,
 * whichever is longer, so a holder configured differently is never cut short.
 */
export function mayTake(
  observation: LeaseObservation,
  identity: string,
  leaseDurationMs: number,
  now: number,
): boolean {
  if (observation.holder === "" || observation.holder === identity) return true;
  return now - observation.since > Math.max(observation.durationMs, leaseDurationMs);
}
