// The bench's CPU split: /proc's schedstat, stat and /proc/stat read right (a command name with spaces and
// parentheses included), and the differences between two snapshots turned into CPU per message.
import { expect } from "chai";
import {
  type CpuSnapshot,
  cpuSnapshot,
  cpuSplit,
  parseMachineBusySeconds,
  parseSchedstat,
  parseStatCpuSeconds,
  threadSchedstats,
} from "../../../hack/bench/cpu-split.ts";

describe("bench CPU split", () => {
  it("reads run and wait nanoseconds from schedstat, and refuses anything else", () => {
    expect(parseSchedstat("138449 2043376 2\n")).to.deep.equal({ runNs: 138449, waitNs: 2043376 });
    expect(() => parseSchedstat("")).to.throw(/schedstat/);
  });

  it("leaves out a thread that ended between the listing and its read, and fails on any other error", () => {
    const gone = (code: string) => Object.assign(new Error(`${code}: schedstat`), { code });
    const read = (tid: string) => {
      if (tid === "12") throw gone("ENOENT");
      if (tid === "13") throw gone("ESRCH");
      return `${tid}000 7 1\n`;
    };
    expect([...threadSchedstats(["11", "12", "13", "14"], read)]).to.deep.equal([
      [11, { runNs: 11000, waitNs: 7 }],
      [14, { runNs: 14000, waitNs: 7 }],
    ]);
    expect(() =>
      threadSchedstats(["11"], () => {
        throw gone("EACCES");
      }),
    ).to.throw(/EACCES/);
  });

  it("reads utime + stime after a command name holding spaces and parentheses", () => {
    const fields = Array.from({ length: 40 }, (_, i) => String(i + 3));
    fields[11] = "150"; // utime (field 14)
    fields[12] = "50"; // stime (field 15)
    expect(parseStatCpuSeconds(`4242 (java (main) x) ${fields.join(" ")}\n`)).to.equal(2);
    expect(() => parseStatCpuSeconds("4242 (java) S")).to.throw(/utime/);
  });

  it("counts idle and iowait as the machine's only idle time", () => {
    expect(parseMachineBusySeconds("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n")).to.equal(1.5);
    expect(() => parseMachineBusySeconds("intr 1 2 3")).to.throw(/cpu line/);
  });

  it("splits two snapshots into the main thread, the client's thread, the other threads (new ones too), the broker and the machine", () => {
    const before: CpuSnapshot = {
      threads: new Map([
        [1, { runNs: 1e9, waitNs: 1e9 }],
        [2, { runNs: 5e9, waitNs: 0 }],
      ]),
      brokerSeconds: 10,
      machineBusySeconds: 100,
      atSeconds: 50,
    };
    const after: CpuSnapshot = {
      threads: new Map([
        [1, { runNs: 2e9, waitNs: 1.5e9 }],
        [2, { runNs: 5.2e9, waitNs: 0 }],
        [3, { runNs: 0.3e9, waitNs: 0 }],
      ]),
      brokerSeconds: 10.1,
      machineBusySeconds: 103,
      atSeconds: 52,
    };
    const split = cpuSplit(before, after, { mainThreadId: 1, messages: 1000, cores: 2 });
    expect(split.mainUsPerMsg).to.be.closeTo(1000, 1e-6);
    expect(split.mainRunQueueUsPerMsg).to.be.closeTo(500, 1e-6);
    expect(split.otherThreadsUsPerMsg).to.be.closeTo(500, 1e-6);
    expect(split.brokerUsPerMsg).to.be.closeTo(100, 1e-6);
    expect(split.machineUsPerMsg).to.be.closeTo(3000, 1e-6);
    // 2 cores, 3 ms of machine CPU per message: at most 667 messages a second.
    expect(split.machineCeilingMsgsPerS).to.be.closeTo(2e6 / 3000, 1e-6);
    // 3 busy seconds over 2 s of 2 cores.
    expect(split.machineBusyShare).to.be.closeTo(0.75, 1e-6);
    expect(split.clientUsPerMsg).to.equal(0);

    const withClient = cpuSplit(before, after, {
      mainThreadId: 1,
      messages: 1000,
      cores: 2,
      clientThreadId: 3,
    });
    expect(withClient.clientUsPerMsg).to.be.closeTo(300, 1e-6);
    expect(withClient.otherThreadsUsPerMsg).to.be.closeTo(200, 1e-6);
    expect(withClient.mainUsPerMsg).to.be.closeTo(1000, 1e-6);
  });

  it("refuses a client thread that ended before the last snapshot, rather than counting negative time", () => {
    const snapshot = (threads: [number, { runNs: number; waitNs: number }][]): CpuSnapshot => ({
      threads: new Map(threads),
      brokerSeconds: 0,
      machineBusySeconds: 0,
      atSeconds: 0,
    });
    const before = snapshot([
      [1, { runNs: 1e9, waitNs: 0 }],
      [3, { runNs: 5e9, waitNs: 0 }],
    ]);
    const after = snapshot([[1, { runNs: 2e9, waitNs: 0 }]]);
    expect(() =>
      cpuSplit(before, after, { mainThreadId: 1, messages: 1000, cores: 2, clientThreadId: 3 }),
    ).to.throw("the client thread 3 ended before the last snapshot");
  });

  it("snapshots this process on Linux: its main thread's id is its pid", () => {
    const snapshot = cpuSnapshot(process.pid);
    expect(snapshot, "this machine is Linux").to.not.equal(undefined);
    expect(snapshot?.threads.get(process.pid)?.runNs).to.be.greaterThan(0);
    expect(snapshot?.brokerSeconds).to.be.greaterThan(0);
  });
});
