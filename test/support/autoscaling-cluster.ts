// What the autoscaling end-to-end tests run on, started side by side: a control plane with the HPA controller
// syncing every 2 s and kwok running the worker pods, and a Kafka broker, each under its own state name.
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { startKafkaOnFreePorts } from "./kafka.ts";

export function startAutoscalingCluster(name: string, kafkaName: string): Promise<[Cluster, KafkaCluster]> {
  return startTogether(
    freePortBase(clusterPortCount).then((portBase) =>
      startCluster({ name, portBase, controllerManager: true, kwok: true, hpaSyncPeriodSeconds: 2 }),
    ),
    startKafkaOnFreePorts({ name: kafkaName }),
  );
}
