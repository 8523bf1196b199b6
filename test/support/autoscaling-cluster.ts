// What the autoscaling end-to-end tests run on, started side by side: a control plane with the HPA controller
// syncing every 2 s and kwok running the worker pods, and a Kafka broker, each under its own state name.
import type { V1Deployment } from "@kubernetes/client-node";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import type { Kubectl } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { startKafkaOnFreePorts } from "./kafka.ts";
import { WorkerFleet } from "./worker-fleet.ts";

export function startAutoscalingCluster(name: string, kafkaName: string): Promise<[Cluster, KafkaCluster]> {
  return startTogether(
    freePortBase(clusterPortCount).then((portBase) =>
      startCluster({ name, portBase, controllerManager: true, kwok: true, hpaSyncPeriodSeconds: 2 }),
    ),
    startKafkaOnFreePorts({ name: kafkaName }),
  );
}

/**
 * A default-namespace pipeline's worker Deployment, and real workers following its replicas; `kubectl` is a
 * getter because the tests make their Kubectl once the cluster is up.
 */
export function pipelineWorkers(kubectl: () => Kubectl) {
  const fleets: WorkerFleet[] = [];
  const workerDeployment = (name: string) => ["deployment", `${name}-worker`, "-n", "default"];
  return {
    deployment: (name: string) => kubectl().getJson<V1Deployment>(workerDeployment(name)),
    /** Real workers for `name`'s Deployment, until stopFleets. */
    fleetOf: (name: string) => {
      const fleet = new WorkerFleet(() => kubectl().getJsonAsync<V1Deployment>(workerDeployment(name)));
      fleets.push(fleet);
      return fleet;
    },
    stopFleets: () => Promise.all(fleets.splice(0).map((fleet) => fleet.stop())),
  };
}
