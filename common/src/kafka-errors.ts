// Recognition of Kafka failures, shared by the worker and the operator: kafkajs nests and aggregates its
// errors, and a few of them no retry can cure (a rejected SASL login, an untrusted broker certificate, a refused
// client certificate). Both sides must tell those apart from a broker that is merely not up yet.

/** The parts of a kafkajs error read here; kafkajs's classes are not visible to ESM as named exports. */
export interface KafkaJsErrorLike {
  name?: string;
  message?: string;
  type?: string;
  code?: string;
  retriable?: boolean;
  cause?: unknown;
  errors?: unknown[];
}

/** The error and everything it wraps: kafkajs nests causes and aggregates per-topic errors. */
export function errorChain(error: unknown): KafkaJsErrorLike[] {
  if (typeof error !== "object" || error === null) return [{ message: String(error) }];
  const link = error as KafkaJsErrorLike;
  return [
    link,
    ...(link.cause === undefined ? [] : errorChain(link.cause)),
    ...(link.errors ?? []).flatMap(errorChain),
  ];
}

export type KafkaSecurityFailure =
  /** The broker rejected the SASL login: wrong user, password or mechanism. */
  | { kind: "authentication"; detail: string }
  /** The broker's certificate does not verify against the trusted CAs (or names another host). */
  | { kind: "untrusted-broker"; detail: string }
  /** The broker ended the handshake over the client's certificate: none sent, or one it does not trust. */
  | { kind: "client-certificate-refused"; detail: string };

/** OpenSSL's verification results (and Node's host check) for a server certificate the client cannot trust. */
const untrustedBrokerCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** TLS alerts a server sends when it will not accept the client's certificate (Node: ERR_SSL_…_ALERT_…). */
const clientCertificateAlert =
  /^ERR_SSL_\w+_ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED)$/;

/** Which failure no retry can cure, if any, an error from kafkajs (however wrapped) is. */
export function kafkaSecurityFailure(error: unknown): KafkaSecurityFailure | undefined {
  for (const link of errorChain(error)) {
    const message = link.message ?? "";
    if (link.name === "KafkaJSSASLAuthenticationError") return { kind: "authentication", detail: message };
    const code = link.code ?? "";
    if (untrustedBrokerCodes.has(code)) {
      return { kind: "untrusted-broker", detail: message.replace(/^Connection error: /, "") };
    }
    const alert = clientCertificateAlert.exec(code)?.[1];
    // OpenSSL's own text for an alert is a line of internals; the alert's name says what matters.
    if (alert !== undefined) {
      const name = alert.toLowerCase().replaceAll("_", " ");
      return { kind: "client-certificate-refused", detail: `the broker sent TLS alert "${name}"` };
    }
  }
  return undefined;
}
