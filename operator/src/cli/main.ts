// kubectl-sentiment: the kubectl plugin's entry. Parses the command line, runs the command, and ends with the
// command's exit code (errors.ts), having printed any failure as one line on standard error.
import type { ApiException } from "@kubernetes/client-node";
import { parseCommandLine } from "./args.ts";
import type { CommandArgs } from "./commands.ts";
import type { CommandContext } from "./context.ts";
import { CliError, type ExitCode, exitCodes, UsageError } from "./errors.ts";

/**
 * The command's module, loaded only when it runs: the Kubernetes client takes seconds to load on a busy
 * machine, and help or a usage error should not wait for it.
 */
async function run(args: CommandArgs, context: CommandContext): Promise<ExitCode> {
  switch (args.command) {
    case "status":
      return (await import("./status.ts")).status(args, context);
    case "send":
      return (await import("./send.ts")).send(args, context);
    case "tail":
      return (await import("./tail.ts")).tail(args, context);
    case "pause":
    case "resume":
      return (await import("./pause.ts")).setPaused(args, context);
    case "replay":
      return (await import("./replay.ts")).replay(args, context);
    case "redrive":
      return (await import("./redrive.ts")).redrive(args, context);
  }
}

/** What the API server said, from its Status body when it sent one. */
function apiMessage(error: ApiException<unknown>): string {
  try {
    const body = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
    if (typeof body?.message === "string") return `the API server refused (${error.code}): ${body.message}`;
  } catch {
    // Not JSON: the code says enough.
  }
  return `the API server answered ${error.code}`;
}

async function describe(error: unknown): Promise<{ message: string; code: ExitCode }> {
  if (error instanceof UsageError) {
    const help =
      error.command === undefined ? "kubectl sentiment --help" : `kubectl sentiment ${error.command} --help`;
    return { message: `${error.message} (see ${help})`, code: error.exitCode };
  }
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  // Loaded by now if the API server answered at all.
  const { ApiException } = await import("@kubernetes/client-node");
  if (error instanceof ApiException) return { message: apiMessage(error), code: exitCodes.failed };
  return { message: error instanceof Error ? error.message : String(error), code: exitCodes.failed };
}

async function main(argv: string[]): Promise<ExitCode> {
  const interruption = new AbortController();
  const interrupt = () => {
    // A second Ctrl-C does not wait for a clean stop.
    if (interruption.signal.aborted) process.exit(130);
    interruption.abort();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  try {
    const invocation = parseCommandLine(argv, new Date());
    if (invocation.kind === "help") {
      process.stdout.write(invocation.text);
      return exitCodes.ok;
    }
    const { Session } = await import("./session.ts");
    return await run(invocation.args, {
      session: new Session(invocation.target),
      output: invocation.output,
      print: (text) => process.stdout.write(text),
      note: (text) => process.stderr.write(text),
      interrupted: interruption.signal,
    });
  } catch (error) {
    const { message, code } = await describe(error);
    process.stderr.write(`error: ${message}\n`);
    return code;
  }
}

process.exitCode = await main(process.argv.slice(2));
// kafkajs can leave a timer behind a disconnect; the result is decided, so it does not hold the exit up.
setTimeout(() => process.exit(), 2_000).unref();
