// Who is asking, for requests the kube-apiserver's aggregation layer proxies to this server. The aggregator
// connects with its front-proxy client certificate and names the real user in headers; the certificate's CA,
// the names it may carry and the header names are published in kube-system's
// extension-apiserver-authentication ConfigMap. A request is believed only when its client certificate
// chains to that CA (checked by TLS) and carries an allowed name; anything else is unauthenticated.

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
 * `certificateVerified`: TLS found the client certificate chains to config.clientCa; `commonName` is its CN;
 * `headers`: the request's headers with every value of a repeated header (IncomingMessage.headersDistinct).
 */
export function authenticate(
  config: RequestHeaderConfig,
  certificateVerified: boolean,
  commonName: string | undefined,
  headers: NodeJS.Dict<string[]>,
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
  // Each header's values kept apart (the aggregator sends one X-Remote-Group per group): Node's plain
  // `headers` would join them with ", ".
  const values = (name: string) => headers[name.toLowerCase()] ?? [];
  const user = config.usernameHeaders.map((name) => values(name)[0]).find((value) => value !== undefined);
  if (user === undefined || user === "") return { ok: false, reason: "no user named in the request headers" };
  const groups = config.groupHeaders.flatMap(values);
  return { ok: true, user: { name: user, groups } };
}
