// Time as leader election sees it, injectable so unit tests run the election on clocks they move themselves.
// Durations are judged on the monotonic clock only; the wall clock is written into the Lease for people to read
// and is never compared with another replica's, whose clock may be set differently.
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

export interface ElectionClock {
  /** Milliseconds on a clock that never jumps: the only one durations are measured on. */
  monotonic(): number;
  /** Wall-clock epoch milliseconds, written into the Lease's renewTime and acquireTime. */
  wall(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Runs `run` after `ms`; the returned function cancels it. */
  schedule(run: () => void, ms: number): () => void;
}

export const realElectionClock: ElectionClock = {
  monotonic: () => performance.now(),
  wall: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }).catch(() => undefined),
  schedule: (run, ms) => {
    const timer = setTimeout(run, ms);
    return () => clearTimeout(timer);
  },
};
