// Running other programs to completion: finding a tool on PATH (or saying how to get it), running it with or
// without blocking this process, and saying how it ended; `run` makes a failure a HarnessError carrying the end
// of its output.
import { spawn, spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { HarnessError } from "./cli.ts";

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

export interface CommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to its stdin, which is then closed. */
  input?: string;
  /** Killed (SIGTERM) when it runs longer. */
  timeoutMs?: number;
}

/** How a command ended: its exit status, or the signal that ended it, and all it printed. */
export interface CommandResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, blocking this process; a non-zero exit is the caller's to judge. */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): CommandResult {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...spawnOptions(options),
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  const error = result.error as NodeJS.ErrnoException | undefined;
  if (error !== undefined && error.code !== "ETIMEDOUT") throw notStarted(command, error);
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs a command to completion without blocking this process, so whatever runs in it meanwhile (an operator
 * under test) keeps going; a non-zero exit is the caller's to judge.
 */
export function runCommandAsync(
  command: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, spawnOptions(options));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", (error) => reject(notStarted(command, error)));
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** Runs a command to completion; its stdout, or a HarnessError carrying the end of its output. */
export function run(command: string, args: string[], options: CommandOptions = {}): string {
  const result = runCommand(command, args, options);
  if (result.status !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-30).join("\n");
    throw new HarnessError(
      `${command} ${args.join(" ")} exited with ${result.status ?? result.signal}:\n${output}`,
    );
  }
  return result.stdout;
}

function spawnOptions({ cwd, env, timeoutMs }: CommandOptions) {
  return {
    ...(cwd === undefined ? {} : { cwd }),
    ...(env === undefined ? {} : { env }),
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
  };
}

function notStarted(command: string, error: Error): HarnessError {
  return new HarnessError(`${command} could not be started: ${error.message}`);
}
