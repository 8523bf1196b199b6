// What the plugin prints. Pure: text for people, and -o json / yaml for scripts. Data commands print one
// document; following commands (send, tail) print one line of JSON per record (a YAML document per record),
// so a script can read them as they come.
import { dumpYaml } from "@kubernetes/client-node";
import type { OutputFormat } from "./commands.ts";
import type { PipelineResult } from "./results.ts";
import type { StatusReport } from "./status-report.ts";

/** A whole document: an object created or patched, a status report. */
export function formatDocument(value: unknown, output: "json" | "yaml"): string {
  return output === "json" ? `${JSON.stringify(value, null, 2)}\n` : dumpYaml(value);
}

/** Cut to `max` characters, on one line. */
function short(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** One result as it arrives; `text` is the request's, when this process sent it. */
export function formatResult(result: PipelineResult, output: OutputFormat, text?: string): string {
  if (output !== "text") {
    const { kind, topic, partition, offset, id } = result;
    const body = result.kind === "unreadable" ? { problem: result.problem } : { record: result.record };
    const document = { kind, id, topic, partition, offset, ...body };
    return output === "json" ? `${JSON.stringify(document)}\n` : `---\n${dumpYaml(document)}`;
  }
  const quoted = text === undefined ? "" : `  "${short(text, 60)}"`;
  const id = result.id ?? `${result.topic}/${result.partition}/${result.offset}`;
  switch (result.kind) {
    case "response":
      return `${id}  ${result.record.label} ${result.record.score.toFixed(3)}${quoted}\n`;
    case "deadLetter":
      return `${id}  DEAD LETTER ${result.record.code}: ${short(result.record.message, 200)}${quoted}\n`;
    case "unreadable":
      return `${id}  UNREADABLE at ${result.topic}/${result.partition}/${result.offset}: ${result.problem}\n`;
  }
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("   ")
      .trimEnd(),
  );
}

const count = (value: number | undefined) => (value === undefined ? "-" : String(value));

export function formatStatus(report: StatusReport): string {
  const { pipeline, replicas, topics, lag, throughput } = report;
  const uncommitted = lag.partitionsWithoutCommit;
  const unread =
    uncommitted.length === 0
      ? []
      : [
          `(${uncommitted.length === 1 ? "partition" : "partitions"} ${uncommitted.join(", ")} ` +
            `${uncommitted.length === 1 ? "has" : "have"} no committed offset: all of it counts as lag)`,
        ];
  return [
    `Pipeline:     ${pipeline.namespace}/${pipeline.name}`,
    `Ready:        ${report.ready}${report.paused ? " (paused)" : ""}`,
    `Replicas:     ${count(replicas.ready)} ready, ${count(replicas.current)} running, ${count(replicas.desired)} desired`,
    `Topics:       ${topics.requests} -> ${topics.responses}, dead letters ${topics.deadLetter} (${topics.partitions} partitions)`,
    `Group:        ${report.consumerGroup}`,
    `Throughput:   ${throughput.requestsPerSecond} requests/s in, ${throughput.responsesPerSecond} responses/s, ` +
      `${throughput.deadLettersPerSecond} dead letters/s (over ${throughput.windowSeconds} s)`,
    "",
    ...table([
      ["CONDITION", "STATUS", "REASON", "MESSAGE"],
      ...report.conditions.map(({ type, status, reason, message }) => [type, status, reason, message]),
    ]),
    "",
    ...table([
      ["PARTITION", "LAG"],
      ...lag.partitions.map(({ partition, lag: behind }) => [String(partition), String(behind)]),
      ["total", String(lag.total)],
    ]),
    ...unread,
    "",
  ].join("\n");
}
