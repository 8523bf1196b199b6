// KEDA's operator and metrics server for the e2e test of spec.autoscaling.provider keda, built from source
// through the Go module proxy.
//
//   node --import tsx hack/keda.ts build   build both into the cache (no-op when built); prints their paths
//
// Environment: KUBESENTIMENT_CACHE (see hack/harness/dirs.ts).

import { HarnessError, runCli } from "./harness/cli.ts";
import { buildKeda } from "./harness/keda-build.ts";

runCli(async ([command]) => {
  if (command !== "build") throw new HarnessError(`usage: hack/keda.ts build (got '${command ?? ""}')`);
  console.log(Object.values(buildKeda()).join("\n"));
});
