// Shell completion for `kubectl sentiment`, as kubectl 1.26+ asks a plugin for it: kubectl runs
// kubectl_complete-sentiment with the words typed after "sentiment", the last one being completed ("" for a
// new word), and reads one choice per line ("value<TAB>description"), then ":<directive>" (cobra's). Pure
// over `sources`, which answer from the cluster.

import { tokensOf } from "./args.ts";
import { commandNamed, commands, globalOptions, type Options } from "./commands.ts";

/** cobra's ShellCompDirective values used here. */
export const directives = { default: 0, noFileCompletion: 4 } as const;

export interface CompletionSources {
  /** Pipeline names in `namespace` (undefined: the kubeconfig's namespace). */
  pipelines(namespace: string | undefined): Promise<string[]>;
  namespaces(): Promise<string[]>;
  contexts(): Promise<string[]>;
}

export interface Completion {
  choices: string[];
  directive: number;
}

const everyOption: Options = Object.assign({}, globalOptions, ...commands.map((command) => command.options));

/** The option a word names ("--from", "-n"), when it names one that takes a value as the next word. */
function awaitingValue(word: string | undefined, options: Options): [string, Options[string]] | undefined {
  if (word === undefined || word.includes("=")) return undefined;
  const found = Object.entries(options).find(
    ([name, spec]) => word === `--${name}` || (spec.short !== undefined && word === `-${spec.short}`),
  );
  return found !== undefined && found[1].type === "string" ? found : undefined;
}

export async function complete(words: readonly string[], sources: CompletionSources): Promise<Completion> {
  const typed = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const tokens = tokensOf(before, everyOption);
  const positionals = tokens.flatMap((token) => (token.kind === "positional" ? [token.value] : []));
  const command = positionals[0] === undefined ? undefined : commandNamed(positionals[0]);
  const options: Options = { ...globalOptions, ...command?.options };
  const namespace = [...tokens]
    .reverse()
    .find((token) => token.kind === "option" && token.name === "namespace" && token.value !== undefined);
  const matching = (choices: string[], directive: number = directives.noFileCompletion): Completion => ({
    choices: choices.filter((choice) => choice.startsWith(typed)),
    directive,
  });
  const option = awaitingValue(before.at(-1), options);
  if (option !== undefined) {
    const [name, spec] = option;
    if (name === "kubeconfig") return { choices: [], directive: directives.default };
    if (name === "namespace") return matching(await sources.namespaces());
    if (name === "context") return matching(await sources.contexts());
    return matching([...(spec.choices ?? [])]);
  }
  if (typed.startsWith("-")) {
    return matching(Object.entries(options).map(([name, spec]) => `--${name}\t${spec.description}`));
  }
  if (command === undefined) {
    return matching([...commands.map(({ name, summary }) => `${name}\t${summary}`), "help\tshow help"]);
  }
  if (positionals.length === 1) {
    return matching(await sources.pipelines(namespace?.kind === "option" ? namespace.value : undefined));
  }
  return matching([]);
}

/** The lines kubectl reads. */
export function formatCompletion(completion: Completion): string {
  return [...completion.choices, `:${completion.directive}`, ""].join("\n");
}
