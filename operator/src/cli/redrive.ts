// `kubectl sentiment redrive NAME [--code C]... [--since T] [--until T] [--limit N] [--rate R] [--wait]`:
// creates a SentimentRedrive of the pipeline; the operator re-produces the selected dead letters to its
// requests topic (README, "Dead-letter redrive"). Unset options are left out, for the resource's defaults.

import { redriveKind, redrivePlural } from "../redrive/redrive.ts";
import type { CommandArgs } from "./commands.ts";
import type { CommandContext } from "./context.ts";
import { createDayTwoResource } from "./day-two-resource.ts";
import type { ExitCode } from "./errors.ts";

export function redrive(
  args: Extract<CommandArgs, { command: "redrive" }>,
  context: CommandContext,
): Promise<ExitCode> {
  return createDayTwoResource(
    { kind: redriveKind, plural: redrivePlural },
    args.pipeline,
    redriveSpec(args),
    args.wait,
    context,
  );
}

/** The SentimentRedrive's spec, pipeline aside. Pure. */
export function redriveSpec(args: Extract<CommandArgs, { command: "redrive" }>): Record<string, unknown> {
  return {
    ...(args.codes.length === 0 ? {} : { codes: args.codes }),
    ...(args.since === undefined ? {} : { since: args.since }),
    ...(args.until === undefined ? {} : { until: args.until }),
    ...(args.limit === undefined ? {} : { limit: args.limit }),
    ...(args.ratePerSecond === undefined ? {} : { ratePerSecond: args.ratePerSecond }),
  };
}
