// Process plumbing shared by the local Kafka and control-plane harnesses: where state and caches live,
// checks for tools and ports, detached daemons tracked by pid files, and bounded waits that explain failure.
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** A failure of the harness itself: printed as one clear line, never as a stack trace. */
export class HarnessError extends Error {
  override name = "HarnessError";
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Runtime state (data dirs, logs, pid files) of one component; under the checkout so clones do not collide. */
export function stateDir(component: string): string {
  const dir = join(process.env.KUBESENTIMENT_STATE ?? join(repoRoot, ".run"), component);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Downloaded or built artefacts, kept outside git so a second start does not fetch or build again. */
export function cacheDir(component: string): string {
  const dir = join(process.env.KUBESENTIMENT_CACHE ?? join(homedir(), ".cache", "kubesentiment"), component);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Path of an executable on PATH, or a HarnessError that says what is missing and how to get it. */
export function requireCommand(command: string, hint: string): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, command);
    try {
      if (statSync(candidate).mode & 0o111) return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  throw new HarnessError(`'${command}' was not found on PATH: ${hint}`);
}

/** Runs a command to completion; a non-zero exit becomes a HarnessError carrying its output. */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new HarnessError(`${command} could not be started: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n").slice(-30).join("\n");
    throw new HarnessError(`${command} ${args.join(" ")} exited with ${result.status}:\n${output}`);
  }
  return result.stdout;
}

export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once("error", () => resolvePort(false));
    server.listen(port, host, () => server.close(() => resolvePort(true)));
  });
}

/** Refuses to start when a port is taken, naming the port, its purpose and the variable that moves it. */
export async function assertPortsFree(
  ports: { port: number; purpose: string; setting: string }[],
): Promise<void> {
  for (const { port, purpose, setting } of ports) {
    if (!(await isPortFree(port))) {
      throw new HarnessError(
        `port ${port} (${purpose}) on 127.0.0.1 is already in use by another process: stop that process or set ${setting}`,
      );
    }
  }
}

export interface Daemon {
  name: string;
  pidFile: string;
  logFile: string;
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

/** Stops a daemon's whole process group: TERM, then KILL after the grace period. Safe when already gone. */
export async function stopDaemon(daemon: Daemon, graceMs = 10_000): Promise<void> {
  const pid = readPid(daemon.pidFile);
  if (pid !== undefined && isAlive(pid)) {
    signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(100);
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

/** Entry point wrapper for hack/ scripts: a HarnessError prints its message and exits 1, without a stack trace. */
export function runCli(main: (args: string[]) => Promise<void>): void {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof HarnessError) {
      console.error(`error: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  });
}
