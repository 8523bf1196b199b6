// A real local Kubernetes control plane for development and tests, built from source with Go.
//
//   node --import tsx hack/cluster.ts build   build the binaries into the cache (no-op when built)
//        build --real-node                    also the real node's kubelet, kube-proxy and CoreDNS
//   node --import tsx hack/cluster.ts up      start (or find running) etcd, kube-apiserver, controller manager,
//                                             scheduler and kwok; prints the kubeconfig path on its last line
//        up --minimal                         only etcd and kube-apiserver
//        up --real-node                       also one real node (as root: containerd, CoreDNS, kubelet, CNI
//                                             bridge, kube-proxy) in place of kwok's fake one, the apiserver on
//                                             the pod gateway; `npm run images` loads the images into it
//   node --import tsx hack/cluster.ts down    stop everything `up` started and remove its state
//
// Environment: KUBESENTIMENT_CLUSTER_PORT (kube-apiserver port, default 6443; the next five ports are used
// too), KUBESENTIMENT_CLUSTER_READY_TIMEOUT (seconds each component may take to become ready, default 90),
// KUBESENTIMENT_CLUSTER_HPA_SYNC (HPA sync period in seconds, default 15), KUBESENTIMENT_STATE and
// KUBESENTIMENT_CACHE (see hack/harness/dirs.ts).

import { HarnessError, runCli } from "./harness/cli.ts";
import { buildClusterBinaries, buildNodeBinaries } from "./harness/cluster-build.ts";
import { defaultPortBase, startCluster, stopCluster } from "./harness/cluster-run.ts";
import { buildCoredns } from "./harness/coredns-build.ts";
import { stateDir } from "./harness/dirs.ts";

/** A positive integer from the environment, or a HarnessError naming the variable. */
function envInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new HarnessError(`${name}=${raw} is not a positive integer`);
  return value;
}

runCli(async ([command, ...flags]) => {
  switch (command) {
    case "build":
      buildClusterBinaries();
      if (flags.includes("--real-node")) {
        buildNodeBinaries();
        buildCoredns();
      }
      return;
    case "up": {
      const full = !flags.includes("--minimal");
      // Interrupted half-way, `up` would leave detached daemons behind: start nothing more, take down what
      // was started, then exit.
      const interrupted = new AbortController();
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
          console.error(`cluster: ${signal} received; stopping what was started`);
          interrupted.abort();
          void stopCluster(stateDir("cluster")).finally(() => process.exit(130));
        });
      }
      const cluster = await startCluster({
        portBase: envInteger("KUBESENTIMENT_CLUSTER_PORT", defaultPortBase),
        readyTimeoutMs: envInteger("KUBESENTIMENT_CLUSTER_READY_TIMEOUT", 90) * 1000,
        hpaSyncPeriodSeconds: envInteger("KUBESENTIMENT_CLUSTER_HPA_SYNC", 15),
        controllerManager: full,
        kwok: full,
        realNode: flags.includes("--real-node"),
        build: true,
        signal: interrupted.signal,
      }).catch(async (error: unknown) => {
        // Interrupted: the signal handler's teardown decides the exit (130), not this abort error.
        if (interrupted.signal.aborted) await new Promise(() => {});
        throw error;
      });
      console.error(`cluster: ready at ${cluster.server}; export KUBECONFIG=${cluster.kubeconfigPath}`);
      console.log(cluster.kubeconfigPath);
      return;
    }
    case "down":
      await stopCluster(stateDir("cluster"));
      return;
    default:
      throw new HarnessError(
        `usage: hack/cluster.ts build [--real-node] | up [--minimal | --real-node] | down (got '${command ?? ""}')`,
      );
  }
});
