// Bounded waits that explain themselves: one poller, waitFor, that retries until something holds and otherwise
// fails naming what was awaited and what was seen instead; and waitUntilReady on top of it for local services,
// which also gives up the moment a service exits and quotes the end of its log.
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError } from "./cli.ts";
import { type Daemon, runningPid, tailOf } from "./processes.ts";

export interface WaitOptions {
  /** How long to keep trying; 60 s by default. */
  timeoutMs?: number;
  /** The pause between checks; 250 ms by default. */
  intervalMs?: number;
  /** What things looked like at the timeout, for its message. */
  describe?: () => string;
  /** Asked after every check that did not succeed: an error to give up with at once (what was to answer died). */
  abort?: () => Error | undefined;
  /** The timeout's error, from the last error a check threw ("" if none); "timed out waiting for …" by default. */
  timeoutError?: (lastError: string) => Error;
}

/**
 * Polls `check` until it returns a value other than undefined/false, and returns that value. A check that throws
 * counts as not yet; its message goes into the timeout's error, which names what was awaited.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 60_000, intervalMs = 250, describe = () => "" } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    const reason = options.abort?.();
    if (reason !== undefined) throw reason;
    if (Date.now() > deadline) {
      if (options.timeoutError) throw options.timeoutError(lastError);
      const last = describe();
      throw new HarnessError(
        `timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}${last ? `; ${last}` : ""}`,
      );
    }
    await sleep(intervalMs);
  }
}

/**
 * Waits until `ready` holds for services just started. Each probe is bounded, so one that hangs on a
 * half-started server counts as a failed try; the wait fails at once when one of `daemons` exits, and after
 * `timeoutMs` otherwise, either way quoting the end of their logs unless `timeoutError` says otherwise.
 */
export async function waitUntilReady(
  daemons: Daemon[],
  what: string,
  ready: () => Promise<boolean>,
  options: Pick<WaitOptions, "intervalMs" | "timeoutError"> & { timeoutMs: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  await waitFor(what, () => withTimeout(ready(), Math.max(1_000, Math.min(20_000, deadline - Date.now()))), {
    timeoutError: () =>
      new HarnessError(
        `${daemons.map((daemon) => daemon.name).join(", ")} did not become ready (${what}) within ${options.timeoutMs / 1000}s; ${daemons.map(endOfLog).join("\n")}`,
      ),
    ...options,
    abort: () => {
      const exited = daemons.find((daemon) => runningPid(daemon) === undefined);
      return exited && new HarnessError(`${exited.name} exited before ${what}; ${endOfLog(exited)}`);
    },
  });
}

function endOfLog(daemon: Daemon): string {
  return `end of ${daemon.logFile}:\n${tailOf(daemon.logFile)}`;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`probe took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
