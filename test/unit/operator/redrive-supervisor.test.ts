import { expect } from "chai";
import type { SentimentRedrive } from "../../../operator/src/redrive/redrive.ts";
import { RedriveSupervisor, type Runner } from "../../../operator/src/redrive/supervisor.ts";

const redrive = (uid: string, phase?: "Running" | "Done" | "Failed", deleting = false): SentimentRedrive => ({
  apiVersion: "kubesentiment.io/v1alpha1",
  kind: "SentimentRedrive",
  metadata: { name: uid, namespace: "ns", uid, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
  spec: { pipeline: "p" },
  ...(phase === undefined ? {} : { status: { phase } }),
});

function fakeRunners() {
  const started: string[] = [];
  const stopped: string[] = [];
  const finish = new Map<string, () => void>();
  const start = (object: SentimentRedrive): Runner => {
    const uid = object.metadata.uid ?? "";
    started.push(uid);
    let resolve: () => void = () => {};
    const finished = new Promise<void>((done) => {
      resolve = done;
    });
    finish.set(uid, resolve);
    return {
      finished,
      stop: async () => {
        stopped.push(uid);
        resolve();
      },
    };
  };
  return { started, stopped, finish, start };
}

describe("redrive supervisor", () => {
  it("runs nothing until it leads, then one runner per active redrive", () => {
    let listed = [
      redrive("a"),
      redrive("b", "Running"),
      redrive("c", "Done"),
      redrive("d", "Failed"),
      redrive("e", undefined, true),
    ];
    const runners = fakeRunners();
    const supervisor = new RedriveSupervisor(() => listed, runners.start);
    supervisor.sync();
    expect(runners.started).to.deep.equal([]);
    supervisor.start();
    supervisor.sync();
    expect(runners.started).to.deep.equal(["a", "b"]);
    listed = [...listed];
    supervisor.sync();
    expect(supervisor.running).to.deep.equal(["a", "b"]);
  });

  it("stops the runner of a deleted or finished redrive, and all of them when leadership ends", async () => {
    let listed = [redrive("a"), redrive("b"), redrive("c")];
    const runners = fakeRunners();
    const supervisor = new RedriveSupervisor(() => listed, runners.start);
    supervisor.start();
    listed = [redrive("b", "Done"), redrive("c")];
    supervisor.sync();
    expect(runners.stopped).to.deep.equal(["a", "b"]);
    await supervisor.stopAll();
    expect(runners.stopped).to.deep.equal(["a", "b", "c"]);
    supervisor.sync();
    expect(runners.started).to.deep.equal(["a", "b", "c"]);
  });

  it("does not start again a redrive whose runner finished while the watch still shows it active", async () => {
    const listed = [redrive("a")];
    const runners = fakeRunners();
    const supervisor = new RedriveSupervisor(() => listed, runners.start);
    supervisor.start();
    runners.finish.get("a")?.();
    await Promise.resolve();
    await Promise.resolve();
    supervisor.sync();
    expect(runners.started).to.deep.equal(["a"]);
    expect(supervisor.running).to.deep.equal([]);
  });
});
