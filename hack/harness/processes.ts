// Processes the harness starts and stops. Long-running local services are detached daemons: each in its own
// process group, its output in a log file and its pid in a pid file, so a later process (a `down`, the next test
// run) can find and stop what an earlier one started. Child processes (workers a test runs) are stopped as
// Kubernetes stops a pod; and a look through /proc tells whether anything outlived whoever started it.
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { HarnessError } from "./cli.ts";

export interface Daemon {
  name: string;
  pidFile: string;
  logFile: string;
  /** Text the daemon's command line always contains (a file of its own state), which tells it apart from an
   * unrelated process that was given its old pid. */
  mark: string;
}

/** Starts a long-running process in its own process group, output to its log file, pid recorded. */
export function startDaemon(
  daemon: Daemon,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): number {
  mkdirSync(dirname(daemon.logFile), { recursive: true });
  const log = openSync(daemon.logFile, "a");
  const child = spawn(command, args, { detached: true, stdio: ["ignore", log, log], ...options });
  closeSync(log);
  if (child.pid === undefined) throw new HarnessError(`${daemon.name} could not be started (${command})`);
  child.unref();
  writeFileSync(daemon.pidFile, `${child.pid}\n`);
  return child.pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8"), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The daemon's pid while that process is alive and really is the daemon. A pid file can outlive its process (a
 * reboot, a kill -9 of the harness) and the pid be reused; such a process must never be signalled. Without
 * /proc to ask, the pid file is trusted.
 */
export function runningPid(daemon: Daemon): number | undefined {
  const pid = readPid(daemon.pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const command = commandLine(pid);
  return command === undefined || command.includes(daemon.mark) ? pid : undefined;
}

/** A process's command line, its arguments joined by spaces; undefined when it cannot be read. */
function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

/**
 * Stops a daemon's whole process group: TERM, then KILL after the grace period, or KILL at once when `hard`
 * (as a crash would). Removes its pid file; safe when it is already gone.
 */
export async function stopDaemon(
  daemon: Daemon,
  { graceMs = 10_000, hard = false }: { graceMs?: number; hard?: boolean } = {},
): Promise<void> {
  const pid = runningPid(daemon);
  if (pid !== undefined) {
    if (!hard) {
      signalGroup(pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (isAlive(pid) && Date.now() < deadline) await sleep(100);
    }
    if (isAlive(pid)) signalGroup(pid, "SIGKILL");
    while (isAlive(pid)) await sleep(50);
  }
  rmSync(daemon.pidFile, { force: true });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function tailOf(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no log written)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/** Stops a child process as Kubernetes stops a pod: TERM, then KILL if it has not exited after the grace period. */
export async function stopChild(child: ChildProcess, graceMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(graceMs).then(() => child.kill("SIGKILL"))]);
}

/** Live processes but this one whose command line mentions `text` (a state directory), as "pid: command line". */
export function processesMentioning(text: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .flatMap((pid) => {
      const command = commandLine(Number(pid));
      return command?.includes(text) ? [`${pid}: ${command.slice(0, 160)}`] : [];
    });
}

/**
 * Starts two services side by side and resolves with both; when one fails to start, stops the other if it did
 * before rethrowing, so a failed `before` hook leaves nothing running that no `after` hook can reach.
 */
export async function startTogether<A extends Stoppable, B extends Stoppable>(
  first: Promise<A>,
  second: Promise<B>,
): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "fulfilled" && b.status === "fulfilled") return [a.value, b.value];
  await Promise.allSettled(
    [a, b].flatMap((result) => (result.status === "fulfilled" ? [result.value.stop()] : [])),
  );
  throw a.status === "rejected" ? a.reason : (b as PromiseRejectedResult).reason;
}

interface Stoppable {
  stop(): Promise<void>;
}
