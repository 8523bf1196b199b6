// helm for the chart tests and the kind script, built from source through the Go module proxy.
//
//   node --import tsx hack/helm.ts build   build helm into the cache (no-op when built); prints its path
//
// Environment: KUBESENTIMENT_CACHE (see hack/harness/dirs.ts).

import { HarnessError, runCli } from "./harness/cli.ts";
import { buildHelm } from "./harness/helm-build.ts";

runCli(async ([command]) => {
  if (command !== "build") throw new HarnessError(`usage: hack/helm.ts build (got '${command ?? ""}')`);
  console.log(buildHelm());
});
