// `kubectl sentiment send NAME TEXT...`: each text becomes a request with a fresh id, produced to the
// pipeline's requests topic; each request's response (or dead letter) is printed as it arrives. The results
// topics are followed from their ends before anything is produced, so no outcome can slip past.
import { randomUUID } from "node:crypto";
import { kafkaClient } from "../kafka/client.ts";
import type { CommandArgs } from "./commands.ts";
import { type CommandContext, pause } from "./context.ts";
import { CliError, type ExitCode, exitCodes } from "./errors.ts";
import { followFromEnd, pluginClientId } from "./follow.ts";
import { formatResult } from "./format.ts";

export async function send(
  args: Extract<CommandArgs, { command: "send" }>,
  context: CommandContext,
): Promise<ExitCode> {
  const pipeline = await context.session.pipeline(args.pipeline);
  const { resolved, connection } = await context.session.kafkaOf(pipeline);
  const requests = args.texts.map((text) => ({ id: `kubectl-${randomUUID()}`, text }));
  const waiting = new Map(requests.map((request) => [request.id, request.text]));
  let deadLettered = 0;
  let allAnswered: () => void = () => {};
  const answered = new Promise<void>((resolve) => {
    allAnswered = resolve;
  });
  const following = await followFromEnd(
    connection,
    [
      { topic: resolved.topics.responses, role: "response" },
      { topic: resolved.topics.deadLetter, role: "deadLetter" },
    ],
    (result) => {
      const text = result.id === undefined ? undefined : waiting.get(result.id);
      if (result.id === undefined || text === undefined) return;
      waiting.delete(result.id);
      if (result.kind !== "response") deadLettered += 1;
      context.print(formatResult(result, context.output, text));
      if (waiting.size === 0) allAnswered();
    },
  );
  const producer = kafkaClient({ ...connection, clientId: pluginClientId }).producer({
    allowAutoTopicCreation: false,
  });
  try {
    await producer.connect();
    await producer.send({
      topic: resolved.topics.requests,
      acks: -1,
      messages: requests.map(({ id, text }) => ({ key: id, value: JSON.stringify({ id, text }) })),
    });
    context.note(
      `sent ${requests.length} request(s) to ${resolved.topics.requests}; waiting for their outcomes\n`,
    );
    const timedOut = pause(args.timeoutMs, context.interrupted).then(() => "timedOut" as const);
    const outcome = await Promise.race([
      answered.then(() => "answered" as const),
      timedOut,
      following.failed,
    ]);
    if (outcome === "timedOut") {
      throw new CliError(
        `${waiting.size} of ${requests.length} request(s) had no response or dead letter after ` +
          `${args.timeoutMs / 1000} s (ids ${[...waiting.keys()].join(", ")}): are the pipeline's workers ` +
          `running? (kubectl sentiment status ${args.pipeline})`,
        exitCodes.timedOut,
      );
    }
  } finally {
    await Promise.all([producer.disconnect(), following.stop()]);
  }
  return deadLettered > 0 ? exitCodes.deadLettered : exitCodes.ok;
}
