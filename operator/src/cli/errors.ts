// How the plugin ends, for scripts: every failure is an error carrying its exit code, and main.ts is the one
// place that prints it and exits.

/** Exit codes; README's plugin section lists them. */
export const exitCodes = {
  ok: 0,
  /** The cluster or Kafka refused or failed; a replay or redrive that ended Failed. */
  failed: 1,
  /** The command line is wrong: the message names the argument. */
  usage: 2,
  /** `send` gave up waiting for some request's outcome. */
  timedOut: 3,
  /** `send`: every request got its outcome, and some of them are dead letters. */
  deadLettered: 4,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** For help: what each code means. */
export const exitCodeMeanings: Record<ExitCode, string> = {
  0: "done",
  1: "failed: the cluster or Kafka refused or failed, or the replay or redrive ended Failed",
  2: "the command line is wrong (the message names the argument)",
  3: "send: some request had no response or dead letter before --timeout",
  4: "send: every request was answered, and some with a dead letter",
};

export class CliError extends Error {
  override readonly name = "CliError";

  constructor(
    message: string,
    readonly exitCode: ExitCode = exitCodes.failed,
  ) {
    super(message);
  }
}

/** A command line the plugin cannot run; `command` is what its --help is about, when one was named. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, exitCodes.usage);
  }
}
