// Who is asking, for requests the kube-apiserver's aggregation layer proxies to this server. The aggregator
// connects with its front-proxy client certificate and names the real user in headers; the certificate's CA,
// the names it may carry and the header names are published in kube-system's
// extension-apiserver-authentication ConfigMap. A request is believed only when its client certificate
// chains to that CA (checked by TLS) and carries an allowed name; anything else is unauthenticated.
import type { IncomingHttpHeaders } from "node:http";

export const authenticationConfigMap = {
  namespace: "kube-system",
  name: "extension-apiserver-authentication",
};

export interface RequestHeaderConfig {
  /** PEM of the CA that signs the aggregator's client certificate. */
  clientCa: string;
  /** Common names the client certificate may carry; empty: any name signed by the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
}

export interface User {
  name: string;
  groups: string[];
}

function jsonList(value: string | undefined): string[] {
  if (value === undefined || value.trim() === "") return [];
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

/** Reads the ConfigMap's data; throws naming the key when the request-header CA is missing. */
export function requestHeaderConfig(data: Record<string, string> | undefined): RequestHeaderConfig {
  const clientCa = data?.["requestheader-client-ca-file"];
  if (clientCa === undefined || clientCa.trim() === "") {
    throw new Error(
      `${authenticationConfigMap.namespace}/${authenticationConfigMap.name} has no requestheader-client-ca-file: the kube-apiserver runs without --requestheader-client-ca-file, so it cannot proxy to aggregated APIs`,
    );
  }
  return {
    clientCa,
    allowedNames: jsonList(data?.["requestheader-allowed-names"]),
    usernameHeaders: jsonList(data?.["requestheader-username-headers"]),
    groupHeaders: jsonList(data?.["requestheader-group-headers"]),
  };
}

export type Authentication = { ok: true; user: User } | { ok: false; reason: string };

/**
 * `certificateVerified`: TLS found the client certificate chains to config.clientCa; `commonName` is its CN.
 */
export function authenticate(
  config: RequestHeaderConfig,
  certificateVerified: boolean,
  commonName: string | undefined,
  headers: IncomingHttpHeaders,
): Authentication {
  if (!certificateVerified || commonName === undefined) {
    return { ok: false, reason: "no client certificate signed by the request-header CA" };
  }
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(commonName)) {
    return {
      ok: false,
      reason: `client certificate name ${commonName} is not an allowed request-header name`,
    };
  }
  const header = (name: string) => headers[name.toLowerCase()];
  const name = config.usernameHeaders.map(header).find((value) => value !== undefined);
  const user = Array.isArray(name) ? name[0] : name;
  if (user === undefined || user === "") return { ok: false, reason: "no user named in the request headers" };
  const groups = config.groupHeaders.flatMap((group) => {
    const value = header(group);
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  });
  return { ok: true, user: { name: user, groups } };
}
