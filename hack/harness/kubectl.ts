// kubectl against one cluster, as a person would type it, for the demo and the tests: the kubectl built with the
// control plane (hack/cluster.ts build), not whatever is on PATH. A failure throws with kubectl's own message,
// unless the caller asks for the result to judge it (a test asserting on a refusal).
import type { SentimentPipeline } from "../../operator/src/pipeline.ts";
import { HarnessError } from "./cli.ts";
import { clusterBinaries } from "./cluster-build.ts";
import { type CommandOptions, type CommandResult, runCommand, runCommandAsync } from "./commands.ts";

export type Kubectl = ReturnType<typeof kubectlFor>;

/**
 * kubectl against the cluster of `kubeconfig`. `run` blocks this process while kubectl runs, so an operator
 * running in it is frozen too: anything that needs the operator to act or answer (`delete` of a pipeline with a
 * finalizer, `get --raw` of its metrics API) must use `runAsync`.
 */
export function kubectlFor(kubeconfig: string) {
  // Found once: checking the build's stamp hashes go.mod and go.sum, and tests poll through kubectl.
  const kubectl = clusterBinaries().kubectl;
  const options = (input?: string): CommandOptions => ({
    env: { ...process.env, KUBECONFIG: kubeconfig },
    timeoutMs: 60_000,
    ...(input === undefined ? {} : { input }),
  });
  const failure = (args: string[], result: CommandResult) =>
    new HarnessError(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  /** How kubectl ended, whatever its exit status. */
  const result = (args: string[], input?: string): CommandResult => runCommand(kubectl, args, options(input));
  /** kubectl's stdout; a non-zero exit throws with its stderr. */
  const run = (args: string[], input?: string): string => {
    const outcome = result(args, input);
    if (outcome.status !== 0) throw failure(args, outcome);
    return outcome.stdout;
  };
  const runAsync = async (args: string[]): Promise<string> => {
    const outcome = await runCommandAsync(kubectl, args, options());
    if (outcome.status !== 0) throw failure(args, outcome);
    return outcome.stdout;
  };
  const parsedGet = <T>(args: string[], outcome: CommandResult): T | undefined => {
    if (outcome.status === 0) return JSON.parse(outcome.stdout) as T;
    if (outcome.stderr.includes("NotFound")) return undefined;
    throw failure(["get", ...args], outcome);
  };
  /** The object `get` finds, parsed; undefined when it does not exist. */
  const getJson = <T>(args: string[]): T | undefined =>
    parsedGet<T>(args, result(["get", ...args, "-o", "json"]));
  /** getJson without blocking this process: for pollers that run beside an operator in it. */
  const getJsonAsync = async <T>(args: string[]): Promise<T | undefined> =>
    parsedGet<T>(args, await runCommandAsync(kubectl, ["get", ...args, "-o", "json"], options()));
  return {
    result,
    run,
    runAsync,
    getJson,
    getJsonAsync,
    pipeline: (name: string) => getJson<SentimentPipeline>(["sentimentpipeline", name, "-n", "default"]),
    apply: (manifest: string) => run(["apply", "--server-side", "-f", "-"], manifest),
  };
}
