// The Kafka client settings of a pipeline's spec.kafka.tls and .sasl, from the Secrets they reference: CA
// bundle (the key caSecretRef names), client certificate (kubernetes.io/tls: tls.crt, tls.key) and
// SCRAM credentials (username, password). A missing Secret or key is a result naming the field, the Secret and
// the key — never its contents — so the reconcile can put it in a condition.
import type { KafkaConfig, SASLOptions } from "kafkajs";
import { secretProblem } from "../kube/secret-problem.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { type LoginFields, workersLoginFields } from "./client.ts";

/** A Secret's data, decoded; undefined when the Secret does not exist. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, Buffer> | undefined>;

export interface KafkaCredentials {
  ssl?: NonNullable<KafkaConfig["ssl"]>;
  sasl?: SASLOptions;
  loginFields?: LoginFields;
}

export type ResolvedCredentials =
  | { ok: true; credentials: KafkaCredentials }
  | { ok: false; reason: "SecretNotFound" | "SecretKeyMissing"; message: string };

class MissingSecret extends Error {
  constructor(
    readonly reason: "SecretNotFound" | "SecretKeyMissing",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whose login: the workers' (spec.kafka.sasl, tls.certSecretRef) or the operator's, which is spec.kafka.admin
 * where given (its SASL login, and its client certificate in place of the workers'), else the workers'.
 */
export type KafkaIdentity = "workers" | "operator";

function login(pipeline: ResolvedPipeline, identity: KafkaIdentity) {
  const { tls, sasl, admin } = pipeline.kafka;
  const workers = { sasl, cert: tls?.certSecretRef };
  if (identity === "workers" || admin === undefined) return { ...workers, fields: workersLoginFields };
  return {
    sasl: admin.sasl,
    cert: admin.certSecretRef ?? workers.cert,
    fields: {
      sasl: "spec.kafka.admin.sasl",
      certificate:
        admin.certSecretRef === undefined ? workersLoginFields.certificate : "spec.kafka.admin.certSecretRef",
    },
  };
}

export async function resolveKafkaCredentials(
  pipeline: ResolvedPipeline,
  readSecret: SecretReader,
  identity: KafkaIdentity = "operator",
): Promise<ResolvedCredentials> {
  const { tls } = pipeline.kafka;
  const { sasl, cert, fields } = login(pipeline, identity);
  const saslField = `${fields.sasl}.secretRef`;
  const namespace = pipeline.namespace;
  const secretValue = async (field: string, name: string, key: string): Promise<Buffer> => {
    const data = await readSecret(namespace, name);
    const problem = secretProblem({ field, namespace, name, keys: [key] }, data);
    if (problem !== undefined) throw new MissingSecret(problem.reason, problem.message);
    return data?.[key] as Buffer; // secretProblem found none: the Secret holds the key
  };
  try {
    const credentials: KafkaCredentials = { loginFields: fields };
    if (tls !== undefined) {
      const ca = tls.caSecretRef;
      credentials.ssl = {
        ...(ca === undefined
          ? {}
          : { ca: [await secretValue("spec.kafka.tls.caSecretRef", ca.name, ca.key)] }),
        ...(cert === undefined
          ? {}
          : {
              cert: await secretValue(fields.certificate, cert.name, "tls.crt"),
              key: await secretValue(fields.certificate, cert.name, "tls.key"),
            }),
      };
    }
    if (sasl !== undefined) {
      const username = (await secretValue(saslField, sasl.secretRef.name, "username")).toString("utf8");
      const password = (await secretValue(saslField, sasl.secretRef.name, "password")).toString("utf8");
      credentials.sasl = { mechanism: sasl.mechanism, username, password };
    }
    return { ok: true, credentials };
  } catch (error) {
    if (error instanceof MissingSecret) return { ok: false, reason: error.reason, message: error.message };
    throw error;
  }
}
