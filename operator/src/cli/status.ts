// `kubectl sentiment status NAME`: the pipeline's conditions and replicas from its resource, its lag per
// partition from Kafka (the operator's own lag code), and its throughput: the topics' log end offsets read
// twice, a short window apart.
import { TopicAdmin } from "../kafka/admin.ts";
import { readLag } from "../topics-port.ts";
import type { CommandArgs } from "./commands.ts";
import { type CommandContext, pause } from "./context.ts";
import { type ExitCode, exitCodes } from "./errors.ts";
import { pluginClientId } from "./follow.ts";
import { formatDocument, formatStatus } from "./format.ts";
import { type OffsetSample, statusReport } from "./status-report.ts";

export async function status(
  args: Extract<CommandArgs, { command: "status" }>,
  context: CommandContext,
): Promise<ExitCode> {
  const pipeline = await context.session.pipeline(args.pipeline);
  const { resolved, connection } = await context.session.kafkaOf(pipeline);
  const admin = new TopicAdmin({ ...connection, clientId: pluginClientId });
  const total = (ends: { logEndOffset: number }[]) =>
    ends.reduce((sum, { logEndOffset }) => sum + logEndOffset, 0);
  const sample = async (): Promise<OffsetSample> => {
    const [lag, responses, deadLetters] = await Promise.all([
      readLag(admin, resolved),
      admin.logEndOffsets(resolved.topics.responses),
      admin.logEndOffsets(resolved.topics.deadLetter),
    ]);
    return { atMs: Date.now(), lag, responsesEnd: total(responses), deadLetterEnd: total(deadLetters) };
  };
  try {
    const first = await sample();
    await pause(args.windowMs, context.interrupted);
    const report = statusReport(pipeline, resolved, first, await sample());
    context.print(context.output === "text" ? formatStatus(report) : formatDocument(report, context.output));
  } finally {
    await admin.close();
  }
  return exitCodes.ok;
}
