// The operator process: configuration from the environment, a kubeconfig from --kubeconfig, KUBECONFIG,
// ~/.kube/config or the in-cluster service account; a bounded graceful shutdown on SIGTERM/SIGINT; and an
// exit when leadership is lost, so the Deployment restarts a clean process that campaigns again.
import { parseArgs } from "node:util";
import { parseOperatorConfig } from "./config.ts";
import { startOperator } from "./operator.ts";

const shutdownTimeoutMs = 20_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: "string" } } });
  const parsed = parseOperatorConfig(process.env);
  if (!parsed.ok) {
    console.error(`operator: invalid configuration:\n${parsed.problems.map((p) => `  - ${p}`).join("\n")}`);
    process.exit(2);
  }
  const operator = await startOperator({
    config: parsed.config,
    ...(values.kubeconfig === undefined ? {} : { kubeconfigPath: values.kubeconfig }),
    onLostLeadership: () => {
      console.error("operator: lost the leader Lease; exiting so a fresh process campaigns again");
      process.exit(1);
    },
  });
  let signalled = false;
  const shutdown = () => {
    if (signalled) return;
    signalled = true;
    setTimeout(() => process.exit(1), shutdownTimeoutMs).unref();
    operator.stop().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`operator: shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main().catch((error: Error) => {
  console.error(`operator: failed to start: ${error.message}`);
  process.exit(1);
});
