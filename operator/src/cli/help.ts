// Help text for the plugin and each command, from the command table. Pure.
import { type CommandSpec, commands, globalOptions, type Options } from "./commands.ts";
import { exitCodeMeanings } from "./errors.ts";

function optionLines(options: Options): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}`;
    const value = spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : "";
    return [`${flag}${value}${spec.multiple === true ? " (repeatable)" : ""}`, spec.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

export function pluginHelp(): string {
  const width = Math.max(...commands.map(({ name }) => name.length));
  return [
    "kubectl sentiment: operate KubeSentiment pipelines from kubectl.",
    "",
    "Usage:",
    "  kubectl sentiment COMMAND NAME [options]",
    "",
    "Commands:",
    ...commands.map(({ name, summary }) => `  ${name.padEnd(width)}  ${summary}`),
    "",
    "Options of every command:",
    ...optionLines(globalOptions),
    "",
    "Exit codes:",
    ...Object.entries(exitCodeMeanings).map(([code, meaning]) => `  ${code}  ${meaning}`),
    "",
    'Run "kubectl sentiment COMMAND --help" for a command\'s own options.',
    "",
  ].join("\n");
}

export function commandHelp(command: CommandSpec): string {
  const own = Object.keys(command.options).length > 0;
  return [
    `kubectl sentiment ${command.name}: ${command.summary}.`,
    "",
    "Usage:",
    `  kubectl sentiment ${command.name} ${command.arguments} [options]`,
    "",
    ...(own ? ["Options:", ...optionLines(command.options), ""] : []),
    "Options of every command:",
    ...optionLines(globalOptions),
    "",
    "Examples:",
    ...command.examples.map((example) => `  ${example}`),
    "",
  ].join("\n");
}
