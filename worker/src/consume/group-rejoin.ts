// Which kafkajs errors mean the member is about to rejoin its group: kafkajs's runner rejoins on exactly these,
// and with its eager protocol a rejoining member gives up every partition it holds.
import { errorChain } from "../../../common/src/kafka-errors.ts";

const rejoinTypes = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
]);

export function meansRejoin(error: unknown): boolean {
  return errorChain(error).some((link) => link.type !== undefined && rejoinTypes.has(link.type));
}
