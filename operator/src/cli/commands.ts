// What `kubectl sentiment` understands: its global options and each command's arguments, options, help and
// typed arguments. One table that parsing (args.ts), help (help.ts) and completion (completion.ts) all read, so
// the three never disagree.
import { UsageError } from "./errors.ts";
import { parseDuration, parsePositiveInteger, parsePositiveNumber, parseTime } from "./values.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in help, for a string option. */
  value?: string;
  description: string;
  /** Values completion offers, when they are a fixed set. */
  choices?: readonly string[];
}

export type Options = Record<string, OptionSpec>;

export const globalOptions = {
  namespace: {
    type: "string",
    short: "n",
    value: "NAMESPACE",
    description: "the pipeline's namespace (default: the kubeconfig context's, else default)",
  },
  kubeconfig: {
    type: "string",
    value: "FILE",
    description: "the kubeconfig to use (default: KUBECONFIG, else ~/.kube/config)",
  },
  context: { type: "string", value: "NAME", description: "the kubeconfig context to use" },
  output: {
    type: "string",
    short: "o",
    value: "FORMAT",
    description: "json or yaml instead of text",
    choices: ["json", "yaml"],
  },
  help: { type: "boolean", short: "h", description: "show help" },
} satisfies Options;

export type OutputFormat = "text" | "json" | "yaml";

/** A pipeline's replay start, as the SentimentReplay's spec.from takes it. */
export type ReplayFrom = { timestamp: string } | { earliest: true };

/** Each command's arguments, parsed and checked. */
export type CommandArgs =
  | { command: "status"; pipeline: string; windowMs: number }
  | { command: "send"; pipeline: string; texts: string[]; timeoutMs: number }
  | { command: "tail"; pipeline: string; deadLetters: boolean }
  | { command: "pause" | "resume"; pipeline: string }
  | { command: "replay"; pipeline: string; from: ReplayFrom; wait: boolean }
  | {
      command: "redrive";
      pipeline: string;
      codes: string[];
      since: string | undefined;
      until: string | undefined;
      limit: number | undefined;
      ratePerSecond: number | undefined;
      wait: boolean;
    };

export type CommandName = CommandArgs["command"];

type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandSpec {
  name: CommandName;
  summary: string;
  /** The positionals after the command, in help's words: NAME first. */
  arguments: string;
  /** Whether the last positional takes any number of words (one at least). */
  variadic: boolean;
  options: Options;
  examples: string[];
  /** The command's arguments from the parsed options and positionals (NAME first); throws a UsageError. */
  parse(values: Values, positionals: string[], now: Date): CommandArgs;
}

const waitOption: OptionSpec = {
  type: "boolean",
  description: "follow status.phase until Done (exit 0) or Failed (exit 1)",
};

const string = (values: Values, name: string): string | undefined => {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
};

/** NAME, and nothing after it. */
function onlyName(command: string, positionals: string[]): string {
  const [name, ...rest] = positionals;
  if (name === undefined) throw new UsageError(`${command} needs the pipeline's NAME`, command);
  if (rest.length > 0) {
    throw new UsageError(`${command} takes one NAME; unexpected argument "${rest[0]}"`, command);
  }
  return name;
}

export const commands: readonly CommandSpec[] = [
  {
    name: "status",
    summary: "conditions, replicas, consumer lag per partition and throughput of a pipeline",
    arguments: "NAME",
    variadic: false,
    options: {
      window: {
        type: "string",
        value: "DURATION",
        description: "how long throughput is sampled, from the topics' end offsets (default 2s)",
      },
    },
    examples: ["kubectl sentiment status reviews", "kubectl sentiment status reviews -n shop -o yaml"],
    parse: (values, positionals) => ({
      command: "status",
      pipeline: onlyName("status", positionals),
      windowMs: parseDuration("--window", string(values, "window") ?? "2s"),
    }),
  },
  {
    name: "send",
    summary: "send texts as requests and print their responses (or dead letters) as they arrive",
    arguments: "NAME TEXT...",
    variadic: true,
    options: {
      timeout: {
        type: "string",
        value: "DURATION",
        description: "give up (exit 3) when some request has no outcome by then (default 30s)",
      },
    },
    examples: [
      'kubectl sentiment send reviews "An absolute delight." "A dull, lifeless film."',
      "kubectl sentiment send reviews 'Loved it' -o json",
    ],
    parse: (values, positionals) => {
      const [name, ...texts] = positionals;
      if (name === undefined) throw new UsageError("send needs the pipeline's NAME and a TEXT", "send");
      if (texts.length === 0) throw new UsageError("send needs at least one TEXT after NAME", "send");
      const empty = texts.findIndex((text) => text.trim() === "");
      if (empty >= 0) throw new UsageError(`send: TEXT ${empty + 1} is empty`, "send");
      const timeoutMs = parseDuration("--timeout", string(values, "timeout") ?? "30s");
      if (timeoutMs <= 0) throw new UsageError("--timeout must be longer than 0", "send");
      return { command: "send", pipeline: name, texts, timeoutMs };
    },
  },
  {
    name: "tail",
    summary: "follow a pipeline's responses (or, with --dlq, its dead letters), decoded, until interrupted",
    arguments: "NAME",
    variadic: false,
    options: { dlq: { type: "boolean", description: "follow the dead-letter topic instead" } },
    examples: [
      "kubectl sentiment tail reviews",
      "kubectl sentiment tail reviews --dlq -o json | jq .record.code",
    ],
    parse: (values, positionals) => ({
      command: "tail",
      pipeline: onlyName("tail", positionals),
      deadLetters: values.dlq === true,
    }),
  },
  {
    name: "pause",
    summary: "pause a pipeline (spec.paused: true): its workers scale to 0, requests wait in Kafka",
    arguments: "NAME",
    variadic: false,
    options: {},
    examples: ["kubectl sentiment pause reviews"],
    parse: (_values, positionals) => ({ command: "pause", pipeline: onlyName("pause", positionals) }),
  },
  {
    name: "resume",
    summary: "resume a paused pipeline (spec.paused: false): autoscaling takes over again",
    arguments: "NAME",
    variadic: false,
    options: {},
    examples: ["kubectl sentiment resume reviews"],
    parse: (_values, positionals) => ({ command: "resume", pipeline: onlyName("resume", positionals) }),
  },
  {
    name: "replay",
    summary: "reprocess a pipeline's requests from a time, or from the earliest it holds (a SentimentReplay)",
    arguments: "NAME",
    variadic: false,
    options: {
      from: {
        type: "string",
        value: "TIME",
        description: "an RFC 3339 date-time, a duration ago (2h), or earliest (required)",
        choices: ["earliest"],
      },
      wait: waitOption,
    },
    examples: [
      "kubectl sentiment replay reviews --from 2026-12-03T09:00:00Z",
      "kubectl sentiment replay reviews --from 2h --wait",
      "kubectl sentiment replay reviews --from earliest",
    ],
    parse: (values, positionals, now) => {
      const pipeline = onlyName("replay", positionals);
      const from = string(values, "from");
      if (from === undefined) {
        throw new UsageError(
          "replay needs --from TIME (RFC 3339, a duration ago such as 2h, or earliest)",
          "replay",
        );
      }
      return {
        command: "replay",
        pipeline,
        from: from === "earliest" ? { earliest: true } : { timestamp: parseTime("--from", from, now) },
        wait: values.wait === true,
      };
    },
  },
  {
    name: "redrive",
    summary: "send a pipeline's dead letters back to its requests topic (a SentimentRedrive)",
    arguments: "NAME",
    variadic: false,
    options: {
      code: {
        type: "string",
        multiple: true,
        value: "CODE",
        description: "only dead letters with this code; repeat for more (default: every code)",
      },
      since: { type: "string", value: "TIME", description: "only dead letters written at or after TIME" },
      until: { type: "string", value: "TIME", description: "only dead letters written before TIME" },
      limit: { type: "string", value: "N", description: "send at most N dead letters" },
      rate: { type: "string", value: "R", description: "send at most R dead letters a second" },
      wait: waitOption,
    },
    examples: [
      "kubectl sentiment redrive reviews --code INFERENCE_FAILED --since 1h",
      "kubectl sentiment redrive reviews --limit 100 --rate 20 --wait",
    ],
    parse: (values, positionals, now) => {
      const pipeline = onlyName("redrive", positionals);
      const codes = (values.code as string[] | undefined) ?? [];
      const bad = codes.find((code) => !/^[A-Z][A-Z_]*$/.test(code));
      if (bad !== undefined) {
        throw new UsageError(
          `--code "${bad}" is not a dead-letter code (such as INFERENCE_FAILED)`,
          "redrive",
        );
      }
      const time = (name: string) => {
        const value = string(values, name);
        return value === undefined ? undefined : parseTime(`--${name}`, value, now);
      };
      const since = time("since");
      const until = time("until");
      if (since !== undefined && until !== undefined && Date.parse(since) >= Date.parse(until)) {
        throw new UsageError(`--since (${since}) must be before --until (${until})`, "redrive");
      }
      const limit = string(values, "limit");
      const rate = string(values, "rate");
      return {
        command: "redrive",
        pipeline,
        codes,
        since,
        until,
        limit: limit === undefined ? undefined : parsePositiveInteger("--limit", limit),
        ratePerSecond: rate === undefined ? undefined : parsePositiveNumber("--rate", rate),
        wait: values.wait === true,
      };
    },
  },
];

export function commandNamed(name: string): CommandSpec | undefined {
  return commands.find((command) => command.name === name);
}
