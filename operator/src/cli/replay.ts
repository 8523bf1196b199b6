// `kubectl sentiment replay NAME --from TIME|earliest [--wait]`: creates a SentimentReplay of the pipeline;
// the operator pauses the pipeline, resets its group's offsets and resumes it (README, "Replay").

import { replayKind, replayPlural } from "../replay/replay.ts";
import type { CommandArgs } from "./commands.ts";
import type { CommandContext } from "./context.ts";
import { createDayTwoResource } from "./day-two-resource.ts";
import type { ExitCode } from "./errors.ts";

export function replay(
  args: Extract<CommandArgs, { command: "replay" }>,
  context: CommandContext,
): Promise<ExitCode> {
  return createDayTwoResource(
    { kind: replayKind, plural: replayPlural },
    args.pipeline,
    { from: args.from },
    args.wait,
    context,
  );
}
