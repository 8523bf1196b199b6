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

/**
 * Whether the member is still in its generation, which the coordinator lets commit until it rejoins: a rebalance
 * has begun. The other rejoin errors say the member was dropped or the coordinator moved, and a commit would be
 * refused (and retried by kafkajs for up to a minute).
 */
export function mayCommitBeforeRejoin(error: unknown): boolean {
  return errorChain(error).some((link) => link.type === "REBALANCE_IN_PROGRESS");
}
