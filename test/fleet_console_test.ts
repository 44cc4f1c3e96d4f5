import { deepEqual, equal, ok } from "node:assert/strict";
import mqtt from "mqtt";
import type { RunSummary } from "../fleet/mod.ts";
import { startFleetBench, waitFor } from "./_fleet_fixture.ts";
import { startPostgres } from "./_postgres.ts";

// deno-lint-ignore no-explicit-any -- test reads of JSON bodies
type _Json = any;

const GOOD = 'pick("red_block");\nplace("blue_bowl");';
// Line 2 picks with the gripper full: precondition_violated at line 2.
const BAD = 'pick("red_block");\npick("blue_bowl");';

async function getJson(url: string): Promise<{ status: number; body: _Json }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function runs(base: string, query = ""): Promise<RunSummary[]> {
  const { status, body } = await getJson(`${base}/api/runs${query}`);
  equal(status, 200);
  return body;
}

async function fleetSuite(t: Deno.TestContext, newDb: () => Promise<string>) {
  await using bench = await startFleetBench();
  const db = await newDb();
  let fleet = await bench.startConsole(db);

  const good = await bench.run("arm-01", "stack", GOOD);
  const bad = await bench.run("arm-02", "grab", BAD);
  equal(good.outcome, "succeeded");
  equal(bad.failure?.label, "precondition_violated");

  await t.step("finds runs by robot, label and program", async () => {
    await waitFor("both runs", async () => {
      const all = await runs(fleet.url);
      return all.length === 2 ? all : undefined;
    });
    deepEqual((await runs(fleet.url, "?robot=arm-01")).map((r) => r.runId), [
      good.runId,
    ]);
    const failed = await runs(fleet.url, "?label=precondition_violated");
    deepEqual(failed.map((r) => [r.runId, r.robotId, r.line]), [
      [bad.runId, "arm-02", 2],
    ]);
    deepEqual((await runs(fleet.url, "?program=stack")).map((r) => r.runId), [
      good.runId,
    ]);
    deepEqual(
      (await runs(fleet.url, "?outcome=failed&robot=arm-02")).map((r) =>
        r.runId
      ),
      [bad.runId],
    );
    const record = await getJson(`${fleet.url}/api/runs/${bad.runId}`);
    equal(record.status, 200);
    deepEqual(record.body, JSON.parse(JSON.stringify(bad)));
    equal((await getJson(`${fleet.url}/api/runs/nope`)).status, 404);
    const robots = await waitFor("both robots online", async () => {
      const { body } = await getJson(`${fleet.url}/api/robots`);
      return body.length === 2 &&
          body.every((r: _Json) => r.status === "online")
        ? body
        : undefined;
    });
    deepEqual(robots.map((r: _Json) => [r.robotId, r.runs]), [
      ["arm-01", 1],
      ["arm-02", 1],
    ]);
    const stats = await getJson(`${fleet.url}/api/stats`);
    equal(stats.body.total, 2);
    deepEqual(stats.body.byLabel, { precondition_violated: 1 });
  });

  await t.step("stores a re-delivered record once", async () => {
    const client = await mqtt.connectAsync(bench.broker.url, {
      protocolVersion: 5,
    });
    try {
      await client.publishAsync(
        "cap/v1/robots/arm-02/evidence",
        JSON.stringify(bad),
        { qos: 1 },
      );
      const marker = await bench.run("arm-02", "grab", BAD);
      await waitFor("the marker run", async () => {
        const all = await runs(fleet.url, "?robot=arm-02");
        return all.some((r) => r.runId === marker.runId) ? all : undefined;
      });
      equal((await runs(fleet.url, "?robot=arm-02")).length, 2);
      await waitFor(
        "the duplicate counted",
        () => fleet.ingest.stats().duplicates >= 1 ? true : undefined,
      );
    } finally {
      await client.endAsync();
    }
  });

  await t.step(
    "a run made while the console was down arrives after it restarts",
    async () => {
      await fleet.close();
      const offline = await bench.run("arm-01", "stack", GOOD);
      // The robot's outbox empties once the broker holds the record for the
      // console's session.
      await bench.robots["arm-01"].telemetry!.waitDrained();
      fleet = await bench.startConsole(db);
      await waitFor("the run made while the console was down", async () => {
        const all = await runs(fleet.url, "?robot=arm-01");
        return all.some((r) => r.runId === offline.runId) ? true : undefined;
      });
    },
  );

  await t.step("bad parameters get a 400 naming the parameter", async () => {
    for (
      const [query, parameter] of [
        ["?limit=0", "limit"],
        ["?limit=abc", "limit"],
        ["?label=oops", "label"],
        ["?outcome=meh", "outcome"],
        ["?since=yesterday", "since"],
        ["?cursor=xyz", "cursor"],
        ["?robot=a/b", "robot"],
        ["?colour=red", "colour"],
        ["?robot=a&robot=b", "robot"],
      ] as const
    ) {
      const { status, body } = await getJson(`${fleet.url}/api/runs${query}`);
      equal(status, 400, query);
      equal(body.parameter, parameter, query);
      ok(String(body.error).includes(parameter));
    }
    equal((await getJson(`${fleet.url}/api/stats?limit=3`)).status, 400);
  });

  await t.step("pages runs with a cursor", async () => {
    const res = await fetch(`${fleet.url}/api/runs?limit=1`);
    const first = await res.json();
    const cursor = res.headers.get("x-next-cursor");
    ok(cursor);
    const second = await runs(fleet.url, `?limit=1&cursor=${cursor}`);
    equal(second.length, 1);
    ok(first[0].runId !== second[0]!.runId);
  });

  await t.step("stop publishes cmd/stop to the robot", async () => {
    const before = bench.robots["arm-02"].telemetry!.stats().stopsReceived;
    const res = await fetch(`${fleet.url}/api/robots/arm-02/stop`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "test" }),
    });
    deepEqual(await res.json(), { stopped: ["arm-02"] });
    await waitFor(
      "the robot's stop",
      () =>
        bench.robots["arm-02"].telemetry!.stats().stopsReceived > before
          ? true
          : undefined,
    );
    // A browser request from another site is refused (CSRF).
    const crossSite = await fetch(`${fleet.url}/api/stop`, {
      method: "POST",
      body: "reason=csrf",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://elsewhere.example",
      },
    });
    equal(crossSite.status, 403);
    await crossSite.body?.cancel();
    // A client that is not a browser needs no body and no content type.
    const bare = await fetch(`${fleet.url}/api/robots/arm-01/stop`, {
      method: "POST",
    });
    deepEqual(await bare.json(), { stopped: ["arm-01"] });
    const all = await fetch(`${fleet.url}/api/stop`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    deepEqual((await all.json()).stopped, ["arm-01", "arm-02"]);
  });
}

Deno.test("fleet console: two robots, a real Mosquitto, SQLite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-" });
  try {
    await fleetSuite(t, () => Promise.resolve(`${dir}/fleet.db`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet console: two robots, a real Mosquitto, PostgreSQL", async (t) => {
  await using pg = await startPostgres();
  await fleetSuite(t, () => pg.newDatabase());
});
