// A stand-in for the API server's Lease: one record with a resourceVersion that changes on every write, writes
// refused (409) unless they carry the version last written, and calls that a test can slow down or hang for one
// elector at a time. Time passes only on the test's ManualTimers, so the order of events is the test's.
import type { V1Lease } from "@kubernetes/client-node";
import type { ElectionClock } from "../../../operator/src/kube/election-clock.ts";
import type { LeaseApi } from "../../../operator/src/kube/lease-api.ts";
import type { ManualTimers } from "../worker/manual-timers.ts";

/** An elector's clocks on shared manual time: its own monotonic origin, its wall clock `skewMs` off true time. */
export function manualElectionClock(
  timers: ManualTimers,
  skewMs: number,
  monotonicOrigin = 0,
): ElectionClock {
  const epoch = Date.parse("2026-12-03T08:00:00Z");
  return {
    monotonic: () => monotonicOrigin + timers.now,
    wall: () => epoch + timers.now + skewMs,
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        const wake = () => {
          cancel();
          resolve();
        };
        const cancel = timers.schedule(() => {
          signal.removeEventListener("abort", wake);
          resolve();
        }, ms);
        signal.addEventListener("abort", wake, { once: true });
      }),
    schedule: timers.schedule,
  };
}

interface Behaviour {
  /** Each call takes this long on the manual clock. */
  delayMs: number;
  /** Calls never answer; they end only when their signal aborts (or the test heals the server). */
  hung: boolean;
}

export class FakeLeaseServer {
  lease: V1Lease | undefined;
  /** Calls still waiting for an answer, by caller. */
  readonly pending = new Map<string, number>();
  /** When each caller sent its reads, on the manual clock. */
  readonly reads = new Map<string, number[]>();
  /** When each caller's writes took effect. */
  readonly writes = new Map<string, number[]>();
  readonly #behaviour = new Map<string, Behaviour>();
  #version = 0;
  #heal: (() => void)[] = [];

  constructor(private readonly timers: ManualTimers) {}

  set(caller: string, behaviour: Partial<Behaviour>): void {
    this.#behaviour.set(caller, { delayMs: 0, hung: false, ...this.#behaviour.get(caller), ...behaviour });
  }

  /** Lets every hung call fail at once, so electors of the code before the fix can be stopped. */
  heal(): void {
    for (const caller of this.#behaviour.keys()) this.set(caller, { hung: false });
    for (const heal of this.#heal.splice(0)) heal();
  }

  apiFor(caller: string): LeaseApi {
    return {
      read: (signal) => {
        this.reads.set(caller, [...(this.reads.get(caller) ?? []), this.timers.now]);
        return this.#call(caller, signal, () => structuredClone(this.lease));
      },
      create: (lease, signal) =>
        this.#call(caller, signal, () => {
          if (this.lease !== undefined) return false;
          this.#write(caller, lease);
          return true;
        }),
      replace: (lease, signal) =>
        this.#call(caller, signal, () => {
          if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) return false;
          this.#write(caller, lease);
          return true;
        }),
    };
  }

  /** When `caller` sent the read its last successful write followed: the start of its last good renewal. */
  lastGoodRenewalStart(caller: string): number {
    const lastWrite = this.writes.get(caller)?.at(-1) ?? Number.NaN;
    return Math.max(...(this.reads.get(caller) ?? []).filter((at) => at <= lastWrite));
  }

  #write(caller: string, lease: V1Lease): void {
    this.writes.set(caller, [...(this.writes.get(caller) ?? []), this.timers.now]);
    this.#version += 1;
    this.lease = structuredClone({
      ...lease,
      metadata: { ...lease.metadata, resourceVersion: String(this.#version) },
    });
  }

  /** Each call takes effect when it is answered, after the caller's delay; a hung one never does. */
  async #call<T>(caller: string, signal: AbortSignal, handle: () => T): Promise<T> {
    const { delayMs, hung } = this.#behaviour.get(caller) ?? { delayMs: 0, hung: false };
    this.pending.set(caller, (this.pending.get(caller) ?? 0) + 1);
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = () => reject(new Error(`${caller}'s call aborted`));
        if (signal.aborted) return fail();
        signal.addEventListener("abort", fail, { once: true });
        const answer = () => {
          signal.removeEventListener("abort", fail);
          resolve();
        };
        if (hung) this.#heal.push(fail);
        else if (delayMs === 0) answer();
        else this.timers.schedule(answer, delayMs);
      });
      return handle();
    } finally {
      this.pending.set(caller, (this.pending.get(caller) ?? 1) - 1);
    }
  }
}
