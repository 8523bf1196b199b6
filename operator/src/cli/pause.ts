// `kubectl sentiment pause NAME` / `resume NAME`: a merge patch of spec.paused; the operator does the rest
// (scales the workers to 0 and keeps them there, or hands them back to autoscaling) and says so in the
// pipeline's Paused condition.
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { group, plural, type SentimentPipeline, version } from "../pipeline.ts";
import type { CommandArgs } from "./commands.ts";
import type { CommandContext } from "./context.ts";
import { type ExitCode, exitCodes } from "./errors.ts";
import { formatDocument } from "./format.ts";

export async function setPaused(
  args: Extract<CommandArgs, { command: "pause" | "resume" }>,
  context: CommandContext,
): Promise<ExitCode> {
  const { session } = context;
  // Read first, so a missing pipeline is said as such rather than as a failed patch.
  await session.pipeline(args.pipeline);
  const paused = args.command === "pause";
  const patched = (await session.customObjects.patchNamespacedCustomObject(
    { group, version, plural, namespace: session.namespace, name: args.pipeline, body: { spec: { paused } } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  )) as SentimentPipeline;
  context.print(
    context.output === "text"
      ? `sentimentpipeline ${session.namespace}/${args.pipeline} ${paused ? "paused" : "resumed"}\n`
      : formatDocument(patched, context.output),
  );
  return exitCodes.ok;
}
