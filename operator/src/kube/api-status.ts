// The API server's refusals told apart by their HTTP status, as @kubernetes/client-node 1.x throws them.
import { ApiException } from "@kubernetes/client-node";

/** True when `error` is the API server's answer with HTTP status `code` (404 Not Found, 409 Conflict, 422 Invalid). */
export function hasApiStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
}
