import { deepEqual, equal, throws } from "node:assert/strict";
import { _testRecord } from "./store/_test_record.ts";
import {
  RepairBusyError,
  RepairJobs,
  type RepairOutcome,
  type RunRepairer,
} from "./repair_jobs.ts";
import type { RobotTarget } from "./robot_commander.ts";

const target = (robotId: string): RobotTarget => ({
  robotId,
  address: "127.0.0.1:50051",
  tls: undefined,
});

const outcome: RepairOutcome = {
  ok: true,
  attempts: 2,
  programId: "grab",
  version: 7,
  source: "say('x')",
  delivery: 'accepted "grab" v7',
  deliveredRunId: null,
  error: null,
};

/** A repairer whose repairs end when the test says, or when aborted. */
function heldRepairer() {
  const pending = new Map<string, PromiseWithResolvers<RepairOutcome>>();
  const repairer: RunRepairer = {
    repair(record, _target, { signal }) {
      const held = Promise.withResolvers<RepairOutcome>();
      pending.set(record.runId, held);
      signal.addEventListener(
        "abort",
        () => held.reject(new Error("aborted: the console closes")),
        { once: true },
      );
      return held.promise;
    },
  };
  return { repairer, pending };
}

async function settled(jobs: RepairJobs, id: string) {
  return (await jobs.settled(id))!;
}

Deno.test("RepairJobs runs one repair per robot and a bounded number at once", async () => {
  const { repairer, pending } = heldRepairer();
  await using jobs = new RepairJobs(repairer, { maxRunning: 2 });
  const a = jobs.start(_testRecord({ runId: "a" }), target("arm-01"));
  equal(a.state, "running");
  throws(
    () => jobs.start(_testRecord({ runId: "b" }), target("arm-01")),
    (error: unknown) =>
      error instanceof RepairBusyError && error.status === 409 &&
      error.jobId === a.id && /still running for robot "arm-01"/.test(
        error.message,
      ),
  );
  const c = jobs.start(_testRecord({ runId: "c" }), target("arm-02"));
  throws(
    () => jobs.start(_testRecord({ runId: "d" }), target("arm-03")),
    (error: unknown) =>
      error instanceof RepairBusyError && error.status === 503,
  );
  pending.get("a")!.resolve(outcome);
  const doneA = await settled(jobs, a.id);
  equal(doneA.state, "succeeded");
  equal(doneA.version, 7);
  equal(doneA.attempts, 2);
  // The robot is free again.
  const b = jobs.start(_testRecord({ runId: "b" }), target("arm-01"));
  pending.get("b")!.resolve({ ...outcome, ok: false, error: "refused" });
  equal((await settled(jobs, b.id)).state, "failed");
  equal(jobs.get(b.id)?.error, "refused");
  deepEqual(jobs.list().map((j) => j.runId), ["b", "c", "a"]);
  equal(jobs.get("nope"), null);
  // Closing aborts the running one and waits for it.
  await jobs.close();
  equal(jobs.get(c.id)?.state, "failed");
  equal(jobs.get(c.id)?.error, "aborted: the console closes");
  throws(
    () => jobs.start(_testRecord({ runId: "e" }), target("arm-04")),
    (error: unknown) =>
      error instanceof RepairBusyError && error.status === 503,
  );
});
