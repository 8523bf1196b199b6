// The Kafka principal the workers log in as, the one their ACLs name: spec.kafka.acls.principal when given,
// else "User:<SCRAM username>", else "User:<client certificate subject>" as Kafka's default principal builder
// spells it (RFC 2253: the subject's attributes last to first, comma-separated). A subject that needs RFC 2253
// escaping, has a multi-valued part or an attribute Java names by OID is refused, asking for the principal
// explicitly, rather than guessed; so is any broker with ssl.principal.mapping.rules, which only the
// explicit field can follow.
import { X509Certificate } from "node:crypto";
import type { ResolvedPipeline } from "../pipeline.ts";
import type { KafkaCredentials } from "./credentials.ts";

export type PrincipalResult = { ok: true; principal: string } | { ok: false; message: string };

/** Attribute names Java's X500Principal writes by name in RFC 2253 form; others become OIDs. */
const rfc2253Keywords = new Set(["CN", "C", "L", "ST", "O", "OU", "STREET", "DC", "UID"]);

/** "C=NL\nO=Acme\nCN=worker" (node:crypto's subject) as "CN=worker,O=Acme,C=NL"; undefined when unsure. */
export function rfc2253Subject(subject: string): string | undefined {
  const parts = subject.split("\n").filter((line) => line !== "");
  const plain = parts.every((part) => {
    const [keyword, value] = [part.slice(0, part.indexOf("=")), part.slice(part.indexOf("=") + 1)];
    return rfc2253Keywords.has(keyword) && value !== "" && !/[,+"\\<>;=#]|^ | $/.test(value);
  });
  return parts.length > 0 && plain ? parts.reverse().join(",") : undefined;
}

const explicit = "set spec.kafka.acls.principal to the principal the brokers give the workers";

/** The workers' principal from the spec and their credentials (read from the Secrets the spec names). */
export function workerPrincipal(pipeline: ResolvedPipeline, workers: KafkaCredentials): PrincipalResult {
  const { principal } = pipeline.kafka.acls;
  return principal === undefined ? loginPrincipal(workers) : { ok: true, principal };
}

/** The principal Kafka's default principal builder gives a login: its SCRAM user, else its certificate's subject. */
export function loginPrincipal(login: KafkaCredentials): PrincipalResult {
  if (login.sasl !== undefined && "username" in login.sasl) {
    return { ok: true, principal: `User:${login.sasl.username}` };
  }
  const cert = typeof login.ssl === "object" ? login.ssl.cert : undefined;
  if (cert === undefined) {
    return {
      ok: false,
      message: `the workers log in with neither SASL (spec.kafka.sasl) nor a client certificate (spec.kafka.tls.certSecretRef): ${explicit}`,
    };
  }
  let subject: string;
  try {
    subject = new X509Certificate(Array.isArray(cert) ? (cert[0] ?? "") : cert).subject;
  } catch (error) {
    return {
      ok: false,
      message: `tls.crt of spec.kafka.tls.certSecretRef is not a PEM certificate (${(error as Error).message}): ${explicit}`,
    };
  }
  const name = rfc2253Subject(subject);
  return name === undefined
    ? {
        ok: false,
        message: `the client certificate's subject ${JSON.stringify(subject.replaceAll("\n", ", "))} needs RFC 2253 escaping or OIDs: ${explicit}`,
      }
    : { ok: true, principal: `User:${name}` };
}
