// The resources `replay` and `redrive` create (SentimentReplay, SentimentRedrive: kubesentiment.io/v1alpha1,
// namespaced, written by the operator's replay and redrive controllers), and --wait: following the created
// object's status.phase until it ends, printing each phase as it is reached.
import type { KubernetesObject } from "@kubernetes/client-node";
import { apiVersion, group, version } from "../pipeline.ts";
import { type CommandContext, pause } from "./context.ts";
import { CliError, type ExitCode, exitCodes } from "./errors.ts";
import { formatDocument } from "./format.ts";

export interface DayTwoKind {
  kind: "SentimentReplay" | "SentimentRedrive";
  plural: "sentimentreplays" | "sentimentredrives";
}

interface DayTwoObject extends KubernetesObject {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

const pollMs = 1_000;

/** Creates `kind` for `pipeline` with `spec`, prints it, and with `wait` follows it to its end. */
export async function createDayTwoResource(
  kind: DayTwoKind,
  pipeline: string,
  spec: Record<string, unknown>,
  wait: boolean,
  context: CommandContext,
): Promise<ExitCode> {
  const { session } = context;
  await session.pipeline(pipeline);
  const created = (await session.customObjects.createNamespacedCustomObject({
    group,
    version,
    plural: kind.plural,
    namespace: session.namespace,
    body: {
      apiVersion,
      kind: kind.kind,
      metadata: { generateName: `${pipeline}-`, namespace: session.namespace },
      spec: { pipeline, ...spec },
    },
  })) as DayTwoObject;
  const name = created.metadata?.name ?? "";
  const reference = `${kind.kind.toLowerCase()} ${session.namespace}/${name}`;
  if (context.output === "text") context.print(`${reference} created\n`);
  else if (!wait) context.print(formatDocument(created, context.output));
  if (!wait) return exitCodes.ok;
  return followPhase(kind, name, reference, context);
}

async function followPhase(
  kind: DayTwoKind,
  name: string,
  reference: string,
  context: CommandContext,
): Promise<ExitCode> {
  const { session } = context;
  let shown: string | undefined;
  for (;;) {
    const object = (await session.customObjects.getNamespacedCustomObject({
      group,
      version,
      plural: kind.plural,
      namespace: session.namespace,
      name,
    })) as DayTwoObject;
    const phase = object.status?.phase;
    if (phase !== undefined && phase !== shown) {
      shown = phase;
      const note = `${reference}: ${phase}\n`;
      if (context.output === "text") context.print(note);
      else context.note(note);
    }
    if (phase === "Done" || phase === "Failed") {
      if (context.output !== "text") context.print(formatDocument(object, context.output));
      if (phase === "Done") return exitCodes.ok;
      const failed = object.status?.conditions?.find(({ type }) => type === "Failed");
      throw new CliError(
        `${reference} failed: ${failed?.reason ?? "no reason given"}: ${failed?.message ?? ""}`,
      );
    }
    if (context.interrupted.aborted) {
      context.note(`stopped following ${reference}, which goes on (phase ${phase ?? "not set yet"})\n`);
      return exitCodes.ok;
    }
    await pause(pollMs, context.interrupted);
  }
}
