// The command line, parsed: the command, its checked arguments, where to find the pipeline and how to print.
// Pure, on node's util.parseArgs; every problem is a UsageError that names the argument, in the plugin's words
// rather than parseArgs's.
import { parseArgs } from "node:util";
import {
  type CommandArgs,
  type CommandSpec,
  commandNamed,
  commands,
  globalOptions,
  type Options,
  type OutputFormat,
} from "./commands.ts";
import { UsageError } from "./errors.ts";
import { commandHelp, pluginHelp } from "./help.ts";

/** Which cluster, context and namespace; unset means the kubeconfig's own choice. */
export interface Target {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export type Invocation =
  | { kind: "help"; text: string }
  | { kind: "run"; args: CommandArgs; target: Target; output: OutputFormat };

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];

/** Every option any command knows, so a first pass can tell an option's value from the command word. */
const everyOption: Options = Object.assign({}, globalOptions, ...commands.map((command) => command.options));

/** Tokens of `argv` as parseArgs reads them with `options`; unknown options are tokens too, judged later. */
export function tokensOf(argv: readonly string[], options: Options): Token[] {
  return (
    parseArgs({ args: [...argv], options: parseArgsOptions(options), strict: false, tokens: true }).tokens ??
    []
  );
}

function parseArgsOptions(options: Options) {
  return Object.fromEntries(
    Object.entries(options).map(([name, { type, short, multiple }]) => [
      name,
      { type, ...(short === undefined ? {} : { short }), ...(multiple === true ? { multiple } : {}) },
    ]),
  );
}

function positionals(tokens: readonly Token[]): string[] {
  return tokens.flatMap((token) => (token.kind === "positional" ? [token.value] : []));
}

export function parseCommandLine(argv: readonly string[], now: Date): Invocation {
  const [word, ...rest] = positionals(tokensOf(argv, everyOption));
  const asksHelp = argv.includes("--help") || argv.includes("-h");
  if (word === undefined) {
    if (asksHelp || argv.length === 0) return { kind: "help", text: pluginHelp() };
    throw new UsageError("no command given: kubectl sentiment --help lists them");
  }
  if (word === "help") {
    const about = rest[0] === undefined ? undefined : known(rest[0]);
    return { kind: "help", text: about === undefined ? pluginHelp() : commandHelp(about) };
  }
  const command = known(word);
  const options: Options = { ...globalOptions, ...command.options };
  const tokens = tokensOf(argv, options);
  checkOptions(tokens, options, command.name);
  if (asksHelp) return { kind: "help", text: commandHelp(command) };
  const { values } = parseArgs({
    args: [...argv],
    options: parseArgsOptions(options),
    strict: false,
    allowPositionals: true,
  });
  const output = outputFormat(values.output, command.name);
  const target: Target = {};
  for (const key of ["kubeconfig", "context", "namespace"] as const) {
    const value = values[key];
    if (typeof value === "string") target[key] = value;
  }
  return {
    kind: "run",
    args: parsedBy(command, values, positionals(tokens).slice(1), now),
    target,
    output,
  };
}

function outputFormat(value: unknown, command: string): OutputFormat {
  if (value === undefined) return "text";
  if (value === "json" || value === "yaml") return value;
  throw new UsageError(`-o/--output "${String(value)}" is not a format: use json or yaml`, command);
}

/** The command's arguments; a problem is said with the command's --help. */
function parsedBy(
  command: CommandSpec,
  values: Parameters<CommandSpec["parse"]>[0],
  words: string[],
  now: Date,
): CommandArgs {
  try {
    return command.parse(values, words, now);
  } catch (error) {
    if (error instanceof UsageError && error.command === undefined) {
      throw new UsageError(error.message, command.name);
    }
    throw error;
  }
}

function known(word: string): CommandSpec {
  const command = commandNamed(word);
  if (command === undefined) {
    throw new UsageError(
      `unknown command "${word}": the commands are ${commands.map(({ name }) => name).join(", ")}`,
    );
  }
  return command;
}

function checkOptions(tokens: readonly Token[], options: Options, command: string): void {
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const spec = options[token.name];
    if (spec === undefined) {
      throw new UsageError(`unknown option ${token.rawName} for ${command}`, command);
    }
    if (spec.type === "boolean" && token.inlineValue === true) {
      throw new UsageError(`${token.rawName} takes no value`, command);
    }
    if (spec.type === "string" && token.value === undefined) {
      throw new UsageError(`${token.rawName} needs a value (${spec.value ?? "VALUE"})`, command);
    }
  }
}
