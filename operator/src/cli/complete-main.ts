// kubectl_complete-sentiment: kubectl runs it to complete `kubectl sentiment ...` (see completion.ts). It
// prints only choices: a cluster that cannot be asked just offers none (a message would land in the shell).
import { tokensOf } from "./args.ts";
import { globalOptions } from "./commands.ts";
import { type CompletionSources, complete, formatCompletion } from "./completion.ts";
import type { Session } from "./session.ts";

const words = process.argv.slice(2);

/** Loaded only when a choice needs the cluster: command names and flags come at once. */
async function sessionFor(typed: readonly string[]): Promise<Session | undefined> {
  const target: Record<string, string> = {};
  for (const token of tokensOf(typed, globalOptions)) {
    if (token.kind === "option" && (token.name === "kubeconfig" || token.name === "context") && token.value) {
      target[token.name] = token.value;
    }
  }
  try {
    const { Session } = await import("./session.ts");
    return new Session(target);
  } catch {
    return undefined;
  }
}

let session: Promise<Session | undefined> | undefined;
const connected = () => {
  session ??= sessionFor(words.slice(0, -1));
  return session;
};
const none = async () => [];
const sources: CompletionSources = {
  pipelines: async (namespace) => (await connected())?.pipelineNames(namespace).catch(none) ?? [],
  namespaces: async () => (await connected())?.namespaceNames().catch(none) ?? [],
  contexts: async () => (await connected())?.contexts ?? [],
};
process.stdout.write(formatCompletion(await complete(words, sources)));
