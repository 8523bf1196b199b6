// The headers a redriven request carries (set by the operator's dead-letter redrive, read by the worker, which
// copies them into any dead letter it writes for that request): how many times the request has been redriven,
// and the dead-letter record it was redriven from. Both sides parse and print them here, so they cannot drift.
export const redriveCountHeader = "kubesentiment-redrive-count";
export const redrivenFromHeader = "kubesentiment-redriven-from";

export interface RedriveOrigin {
  /** 1 for the first redrive of a request, 2 when a redriven request was dead-lettered and redriven again, … */
  count: number;
  /** The dead-letter record the request was re-produced from. */
  from: { topic: string; partition: number; offset: string };
}

/** A header value as Kafka clients hand it over: bytes or text, possibly repeated. */
type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

function single(value: HeaderValue): string | undefined {
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last === undefined ? undefined : last.toString();
}

/** Kafka offsets are int64, partitions int32: decimal strings without sign or leading zeros. */
const decimal = /^(0|[1-9][0-9]{0,18})$/;
/** Kafka's topic-name alphabet, which has no '/': the separator of `<topic>/<partition>/<offset>`. */
const topicName = /^[a-zA-Z0-9._-]{1,249}$/;
/** More redrives than any bound a SentimentRedrive accepts; a larger count is not ours. */
const maxCount = 1000;

/** The header value naming a dead-letter record. */
export function formatRedrivenFrom(from: RedriveOrigin["from"]): string {
  return `${from.topic}/${from.partition}/${from.offset}`;
}

/**
 * The redrive a request's headers describe; undefined unless both headers are present and well formed, so a
 * producer's stray or garbled header never reaches a dead letter (whose schema they must satisfy).
 */
export function parseRedriveHeaders(
  headers: Record<string, HeaderValue> | undefined,
): RedriveOrigin | undefined {
  const count = single(headers?.[redriveCountHeader]);
  const from = single(headers?.[redrivenFromHeader]);
  if (count === undefined || from === undefined || !decimal.test(count)) return undefined;
  const parts = from.split("/");
  if (parts.length !== 3) return undefined;
  const [topic = "", partition = "", offset = ""] = parts;
  if (!topicName.test(topic) || !decimal.test(partition) || !decimal.test(offset)) return undefined;
  const countNumber = Number(count);
  const partitionNumber = Number(partition);
  if (countNumber < 1 || countNumber > maxCount || partitionNumber > 2 ** 31 - 1) return undefined;
  return { count: countNumber, from: { topic, partition: partitionNumber, offset } };
}
