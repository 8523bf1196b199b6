// The reconcile's ACL side over kafka/: the workers' principal from their credentials, the bindings they need
// (acl-plan.ts), and, with the operator's own login, either granting them (spec.kafka.acls.manage: whatever is
// missing is created, so a removed ACL comes back on the next reconcile, and what it granted before that the
// workers no longer need, a former principal's or topic's, is revoked) or, when the operator has a login of
// its own but does not manage ACLs, checking that Kafka's ACLs grant them, so a worker that will be refused is
// named before it is. Described as the AclsReady condition; never throws for Kafka trouble.
import { errorChain } from "../../common/src/kafka-errors.ts";
import type { AclsOutcome, AclsPort } from "./controller/reconcile.ts";
import {
  type AclBinding,
  describeBindings,
  isExactly,
  missingBindings,
  staleBindings,
  ungrantedBindings,
  unionOfBindings,
  workerAcls,
} from "./kafka/acl-plan.ts";
import type { AdminPool } from "./kafka/admin-pool.ts";
import { resolveKafkaCredentials, type SecretReader } from "./kafka/credentials.ts";
import { KafkaAdminError } from "./kafka/errors.ts";
import { withPipelineAdmin } from "./kafka/pipeline-admin.ts";
import { loginPrincipal, workerPrincipal } from "./kafka/principal.ts";
import type { ResolvedPipeline } from "./pipeline.ts";

/** Something the port could not get past, already phrased as the condition it becomes. */
class AclsFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly terminal: boolean,
  ) {
    super(message);
  }
}

/** What keeps an unmanaged pipeline's check from saying anything: not failures of the pipeline. */
const uncheckable = new Set(["AuthorizerDisabled", "AclsNotPermitted"]);

const refusal = (reason: string, message: string, terminal: boolean): AclsOutcome => ({
  condition: { status: "False", reason, message },
  changes: [],
  terminal,
});

/** "revoked User:old Read on topic t, ...", one line per former principal. */
function revokedLines(revoked: readonly AclBinding[]): string[] {
  const principals = [...new Set(revoked.map((binding) => binding.principal))];
  return principals.map(
    (principal) =>
      `revoked ${principal} ${describeBindings(revoked.filter((binding) => binding.principal === principal))}, which the workers no longer need`,
  );
}

export class KafkaAclsPort implements AclsPort {
  constructor(
    private readonly readSecret: SecretReader,
    private readonly admins: AdminPool,
  ) {}

  async ensure(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<AclsOutcome> {
    const { manage } = pipeline.kafka.acls;
    // Logged in as the workers, the operator can tell nothing about them its own work would not show.
    if (!manage && pipeline.kafka.admin === undefined)
      return { condition: undefined, changes: [], terminal: false };
    // Until a grant succeeds, what was granted before stays on record, with what this one may have created.
    let onRecord = [...granted];
    try {
      const principal = await this.#workerPrincipal(pipeline);
      const desired = workerAcls(pipeline, principal);
      if (!manage) return await this.#check(pipeline, principal, desired);
      onRecord = unionOfBindings(desired, granted);
      return await this.#grant(pipeline, principal, desired, granted);
    } catch (error) {
      const record = manage ? { granted: onRecord } : {};
      if (error instanceof AclsFailure) {
        return { ...refusal(error.reason, error.message, error.terminal), ...record };
      }
      const failure = error instanceof KafkaAdminError ? error : undefined;
      return {
        ...refusal(
          failure?.reason ?? "AclOperationFailed",
          failure?.message ?? String(error),
          failure?.retriable === false,
        ),
        ...record,
      };
    }
  }

  /**
   * Deletes the bindings a managed pipeline's workers need and those it `granted` them before; throws with a
   * message a person can act on.
   */
  async delete(pipeline: ResolvedPipeline, granted: readonly AclBinding[]): Promise<void> {
    const bindings = unionOfBindings(workerAcls(pipeline, await this.#workerPrincipal(pipeline)), granted);
    await this.#withAdmin(pipeline, "deleting", (admin) => admin.deleteAcls(bindings));
  }

  /**
   * Creates what the workers need and Kafka lacks, then revokes what was granted before and is no longer
   * needed: only bindings the operator itself granted (on record in `granted`), never another ACL on the same
   * resources.
   */
  async #grant(
    pipeline: ResolvedPipeline,
    principal: string,
    desired: AclBinding[],
    granted: readonly AclBinding[],
  ): Promise<AclsOutcome> {
    const stale = staleBindings(granted, desired);
    const { missing, revoked } = await this.#withAdmin(pipeline, "granting", async (admin) => {
      const principals = new Set([principal, ...stale.map((binding) => binding.principal)]);
      const held = await admin.describeAcls([...principals]);
      const absent = missingBindings(desired, held);
      await admin.createAcls(absent);
      const present = stale.filter((binding) => held.some((acl) => isExactly(acl, binding)));
      await admin.deleteAcls(present);
      return { missing: absent, revoked: present };
    });
    return {
      condition: {
        status: "True",
        reason: "AclsGranted",
        message: `the workers' principal ${principal} is granted ${describeBindings(desired)}`,
      },
      changes: [
        ...(missing.length === 0 ? [] : [`granted ${principal} ${describeBindings(missing)}`]),
        ...revokedLines(revoked),
      ],
      terminal: false,
      granted: desired,
    };
  }

  /** Without an authorizer no one is refused; an operator that may not read ACLs cannot tell (Unknown). */
  async #check(pipeline: ResolvedPipeline, principal: string, desired: AclBinding[]): Promise<AclsOutcome> {
    let ungranted: AclBinding[];
    try {
      ungranted = await this.#withAdmin(pipeline, "checking", async (admin) =>
        ungrantedBindings(desired, await admin.describeAcls([principal, "User:*"])),
      );
    } catch (error) {
      if (!(error instanceof AclsFailure) || !uncheckable.has(error.reason)) throw error;
      const status = error.reason === "AuthorizerDisabled" ? "True" : "Unknown";
      return {
        condition: { status, reason: error.reason, message: error.message },
        changes: [],
        terminal: false,
      };
    }
    if (ungranted.length === 0) {
      return {
        condition: {
          status: "True",
          reason: "AclsGranted",
          message: `Kafka's ACLs grant the workers' principal ${principal} ${describeBindings(desired)} (not managed by the operator)`,
        },
        changes: [],
        terminal: false,
      };
    }
    // Kafka's ACLs change without any event the operator sees: a grant is noticed on the periodic look.
    return refusal(
      "AclsMissing",
      `Kafka's ACLs do not grant the workers' principal ${principal} ${describeBindings(ungranted)}, so the ` +
        "workers will be refused (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED): grant it, or set " +
        "spec.kafka.acls.manage to true to have the operator grant it",
      true,
    );
  }

  async #workerPrincipal(pipeline: ResolvedPipeline): Promise<string> {
    const workers = await resolveKafkaCredentials(pipeline, this.readSecret, "workers");
    if (!workers.ok) throw new AclsFailure(workers.reason, workers.message, true);
    const principal = workerPrincipal(pipeline, workers.credentials);
    if (!principal.ok) throw new AclsFailure("WorkerPrincipalUnknown", principal.message, true);
    return principal.principal;
  }

  /**
   * Runs `use` logged in as the operator. An authorizer refusing the operator, or no authorizer at all, is
   * said in words a person can act on; other failures stay the KafkaAdminErrors they are.
   */
  async #withAdmin<T>(
    pipeline: ResolvedPipeline,
    doing: string,
    use: Parameters<typeof withPipelineAdmin<T>>[3],
  ): Promise<T> {
    try {
      return await withPipelineAdmin(this.admins, pipeline, this.readSecret, use);
    } catch (error) {
      const types = new Set(errorChain(error).map((link) => link.type));
      if (types.has("CLUSTER_AUTHORIZATION_FAILED")) {
        const operator = await this.#operatorPrincipal(pipeline);
        throw new AclsFailure(
          "AclsNotPermitted",
          `Kafka refused the operator's principal ${operator} (spec.kafka.admin) ${doing} ACLs: it needs ` +
            "Describe and Alter on the cluster (kafka-acls.sh --add --allow-principal " +
            `${operator} --operation Describe --operation Alter --cluster), or to be one of super.users`,
          true,
        );
      }
      if (types.has("SECURITY_DISABLED")) {
        throw new AclsFailure(
          "AuthorizerDisabled",
          "Kafka has no authorizer (authorizer.class.name is unset on the brokers), so it keeps no ACLs and " +
            `refuses no one: there are none to be ${doing}`,
          true,
        );
      }
      throw error;
    }
  }

  /** "User:admin", or the field it comes from when its Secret cannot say. */
  async #operatorPrincipal(pipeline: ResolvedPipeline): Promise<string> {
    const login = await resolveKafkaCredentials(pipeline, this.readSecret, "operator");
    const principal = login.ok ? loginPrincipal(login.credentials) : undefined;
    return principal?.ok === true ? principal.principal : "(its login)";
  }
}
