// Running other programs to completion: finding a tool on PATH (or saying how to get it) and running it, its
// failure carrying the end of its output.
import { spawnSync } from "node:child_process";
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
