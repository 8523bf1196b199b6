// Bounded waits that explain themselves: polling until something holds, and failing with what was awaited and
// what things looked like instead of hanging or timing out silently.
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError } from "./cli.ts";
import { type Daemon, isAlive, readPid, tailOf } from "./processes.ts";

/**
 * Polls `ready` until it returns true. Fails early if the daemon exits, and after `timeoutMs` otherwise;
 * either way the error names the daemon, what was awaited, and the end of its log.
 */
export async function waitUntilReady(
  daemon: Daemon,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready().catch(() => false)) return;
    const pid = readPid(daemon.pidFile);
    if (pid === undefined || !isAlive(pid)) {
      throw new HarnessError(
        `${daemon.name} exited before ${what}; end of ${daemon.logFile}:\n${tailOf(daemon.logFile)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new HarnessError(
        `${daemon.name} did not become ready (${what}) within ${timeoutMs / 1000}s; end of ${daemon.logFile}:\n${tailOf(daemon.logFile)}`,
      );
    }
    await sleep(250);
  }
}

/** Polls `check` until it returns a value other than undefined/false; fails naming what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
  describeLast: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const last = describeLast();
      throw new HarnessError(
        `timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}${last ? `; ${last}` : ""}`,
      );
    }
    await sleep(250);
  }
}
