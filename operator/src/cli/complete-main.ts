// kubectl_complete-sentiment: kubectl runs it to complete `kubectl sentiment ...` (see completion.ts). It
// prints only choices: a cluster that cannot be asked just offers none (a message would land in the shell).
import { tokensOf } from "./args.ts";
import { globalOptions } from "./commands.ts";
import { type CompletionSources, complete, formatCompletion } from "./completion.ts";
import { Session } from "./session.ts";

const words = process.argv.slice(2);

function sessionFor(typed: readonly string[]): Session | undefined {
  const target: Record<string, string> = {};
  for (const token of tokensOf(typed, globalOptions)) {
    if (token.kind === "option" && (token.name === "kubeconfig" || token.name === "context") && token.value) {
      target[token.name] = token.value;
    }
  }
  try {
    return new Session(target);
  } catch {
    return undefined;
  }
}

const session = sessionFor(words.slice(0, -1));
const none = async () => [];
const sources: CompletionSources =
  session === undefined
    ? { pipelines: none, namespaces: none, contexts: () => [] }
    : {
        pipelines: (namespace) => session.pipelineNames(namespace).catch(none),
        namespaces: () => session.namespaceNames().catch(none),
        contexts: () => session.contexts,
      };
process.stdout.write(formatCompletion(await complete(words, sources)));
