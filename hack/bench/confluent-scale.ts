// The scaling scenario's workers on the confluent client (confluent-worker.ts) under one group protocol. Their
// group is read with the same client's admin: kafkajs's DescribeGroups calls a KIP-848 group Dead.
import { join } from "node:path";
import { repoRoot } from "../harness/dirs.ts";
import type { ConfluentAdmin, ConfluentKafkaJS } from "./confluent-client.ts";
import type { GroupProtocol } from "./confluent-consumer.ts";
import type { ScaleClient } from "./scale.ts";

export const confluentWorkerArgs = [
  "--import",
  "tsx",
  join(repoRoot, "hack", "bench", "confluent-worker.ts"),
];

/** `admin` must be connected; its caller disconnects it. */
export function confluentScaleClient(
  client: Pick<ConfluentKafkaJS, "ConsumerGroupStates">,
  admin: ConfluentAdmin,
  protocol: GroupProtocol,
): ScaleClient {
  return {
    workerArgs: confluentWorkerArgs,
    env: { BENCH_GROUP_PROTOCOL: protocol },
    async describeGroup(groupId) {
      const {
        groups: [group],
      } = await admin.describeGroups([groupId]);
      const states = client.ConsumerGroupStates;
      const name = Object.keys(states).find((key) => states[key] === group?.state) ?? String(group?.state);
      return {
        stable: group?.state === states.STABLE,
        state: group?.error ? `${name}: ${group.error.message}` : name,
        members: group?.members.length ?? 0,
      };
    },
  };
}
