// `kubectl sentiment tail NAME [--dlq]`: follows the pipeline's responses (or dead letters) from their end,
// printing each decoded, until interrupted.
import type { CommandArgs } from "./commands.ts";
import type { CommandContext } from "./context.ts";
import { type ExitCode, exitCodes } from "./errors.ts";
import { followFromEnd } from "./follow.ts";
import { formatResult } from "./format.ts";

export async function tail(
  args: Extract<CommandArgs, { command: "tail" }>,
  context: CommandContext,
): Promise<ExitCode> {
  const pipeline = await context.session.pipeline(args.pipeline);
  const { resolved, connection } = await context.session.kafkaOf(pipeline);
  const followed = args.deadLetters
    ? { topic: resolved.topics.deadLetter, role: "deadLetter" as const }
    : { topic: resolved.topics.responses, role: "response" as const };
  const following = await followFromEnd(connection, [followed], (result) =>
    context.print(formatResult(result, context.output)),
  );
  try {
    // Said once the end is fixed: whatever is written from now on is printed.
    context.note(`following ${followed.topic} from its end; Ctrl-C stops\n`);
    const interrupted = new Promise<void>((resolve) => {
      if (context.interrupted.aborted) resolve();
      context.interrupted.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([interrupted, following.failed]);
  } finally {
    await following.stop();
  }
  return exitCodes.ok;
}
