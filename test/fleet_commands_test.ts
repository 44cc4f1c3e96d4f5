import { equal, match, ok } from "node:assert/strict";
import mqtt from "mqtt";
import { type RepairJob, startFleetConsole } from "../fleet/mod.ts";
import { makeKey, signed, startNode } from "./_edge_fixture.ts";
import { startFakeOpenAiServer } from "./_fake_openai_server.ts";
import { waitFor } from "./_fleet_fixture.ts";
import { startMosquitto } from "./_mosquitto.ts";
import { spawnService } from "./_mqtt_service.ts";

// deno-lint-ignore no-explicit-any -- test reads of JSON bodies
type _Json = any;

const BAD = 'pick("red_block");\npick("blue_bowl");';
// What the scripted model writes: it also copes with the robot still holding
// the block after the failed run.
const REPAIRED =
  'if (holding() === null) pick("red_block");\nplace("blue_bowl");';

async function call(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: _Json; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? "GET",
    ...(init.body === undefined ? {} : {
      headers: { "content-type": "application/json" },
      body: JSON.stringify(init.body),
    }),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

const post = (url: string, body: unknown = {}) =>
  call(url, { method: "POST", body });

Deno.test("fleet console runs, resumes and repairs a real robot service over its announced gRPC address", async (t) => {
  const key = await makeKey();
  const operatorKey = { ...key.privateJwk, kid: key.keyId };
  try {
    await using broker = await startMosquitto();
    await using robot = await spawnService(
      key,
      `${key.dir}/state`,
      broker,
      { heartbeatMs: 200 },
    );
    await using model = startFakeOpenAiServer([
      { content: "```js\n" + REPAIRED + "\n```" },
    ]);
    await using fleet = await startFleetConsole({
      broker: broker.url,
      listen: "127.0.0.1:0",
      db: `${key.dir}/fleet.db`,
      connections: 2,
      operatorKey,
      repair: {
        llmUrl: model.baseURL,
        llmModel: "fake",
        apiKey: "test",
        signingKey: operatorKey,
      },
    });
    // A second console with neither an operator key nor synthesis.
    await using bare = await startFleetConsole({
      broker: broker.url,
      listen: "127.0.0.1:0",
      db: `${key.dir}/bare.db`,
      group: "bare",
      clientId: "fleet-bare",
      connections: 1,
    });
    // On the robot: one program to run, one that fails (pick with the
    // gripper full, line 2), delivered and run with the test's own client.
    using client = robot.client();
    await client.deliver(
      await signed(key, { programId: "greet", source: 'say("hello");' }),
    );
    const { evidence: failed } = await client.deliver(
      await signed(key, { programId: "grab", source: BAD }),
      { run: true },
    );
    equal(failed?.failure?.label, "precondition_violated");
    const failedRunId = failed!.runId;

    await t.step(
      "the console stores the gRPC address the robot announces",
      async () => {
        for (const each of [fleet, bare]) {
          const row = await waitFor(
            "arm-01 with its gRPC address",
            async () => {
              const { body } = await call(`${each.url}/api/robots`);
              const arm = body.find((r: _Json) => r.robotId === "arm-01");
              return arm?.grpc?.address ? arm : undefined;
            },
          );
          equal(row.grpc.address, robot.address);
          equal(row.grpc.tls, false);
          equal(row.grpc.clientAuth, false);
        }
        const { body } = await call(`${fleet.url}/api/console`);
        equal(body.operatorKey, true);
        equal(body.repair, true);
        const bareConsole = await call(`${bare.url}/api/console`);
        equal(bareConsole.body.operatorKey, false);
        equal(bareConsole.body.repair, false);
      },
    );

    await t.step("lists the robot's programs over gRPC", async () => {
      const { status, body } = await call(
        `${fleet.url}/api/robots/arm-01/programs`,
      );
      equal(status, 200);
      ok(body.some((p: _Json) => p.programId === "greet" && p.version === 1));
      ok(body.some((p: _Json) => p.programId === "grab"));
    });

    await t.step("without an operator key, run and resume say so", async () => {
      const run = await post(`${bare.url}/api/robots/arm-01/run`, {
        programId: "greet",
      });
      equal(run.status, 403);
      match(run.body.error, /no operator key/);
      const resume = await post(`${bare.url}/api/robots/arm-01/resume`);
      equal(resume.status, 403);
      match(resume.body.error, /no operator key/);
      const repair = await post(`${bare.url}/api/runs/${failedRunId}/repair`);
      equal(repair.status, 501);
      match(repair.body.error, /not configured for synthesis/);
      match(repair.body.error, /cap synth --from-run/);
    });

    await t.step(
      "a bad body, an unknown robot, a robot without an address",
      async () => {
        const bad = await post(`${fleet.url}/api/robots/arm-01/run`, {
          programId: "greet",
          version: "two",
        });
        equal(bad.status, 400);
        equal(bad.body.parameter, "version");
        const missing = await post(`${fleet.url}/api/robots/arm-01/run`, {});
        equal(missing.status, 400);
        equal(missing.body.parameter, "programId");
        const unknown = await post(`${fleet.url}/api/robots/arm-77/run`, {
          programId: "greet",
        });
        equal(unknown.status, 404);
        // A robot heard from only by its status announces no address.
        const mq = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
        try {
          await mq.publishAsync("cap/v1/robots/arm-09/status", "online", {
            qos: 1,
            retain: true,
          });
        } finally {
          await mq.endAsync();
        }
        await waitFor("arm-09 at the console", async () => {
          const { body } = await call(`${fleet.url}/api/robots`);
          return body.some((r: _Json) => r.robotId === "arm-09")
            ? true
            : undefined;
        });
        const noAddress = await post(`${fleet.url}/api/robots/arm-09/run`, {
          programId: "greet",
        });
        equal(noAddress.status, 409);
        match(noAddress.body.error, /arm-09.*announced no gRPC address/);
      },
    );

    await t.step(
      "runs a program with a signed command; the run is stored",
      async () => {
        const { status, body } = await post(
          `${fleet.url}/api/robots/arm-01/run`,
          { programId: "greet" },
        );
        equal(status, 202, JSON.stringify(body));
        equal(body.robotId, "arm-01");
        equal(body.programId, "greet");
        const record = await waitFor("the run at the console", async () => {
          const res = await call(`${fleet.url}/api/runs/${body.runId}`);
          return res.status === 200 ? res.body : undefined;
        });
        equal(record.outcome, "succeeded");
        equal(record.program.programId, "greet");
      },
    );

    await t.step(
      "a stopped robot refuses to run, with its reason, until resumed",
      async () => {
        equal((await post(`${fleet.url}/api/robots/arm-01/stop`)).status, 200);
        await waitFor("arm-01 stopped", async () => {
          const { body } = await call(`${fleet.url}/api/robots`);
          return body.find((r: _Json) => r.robotId === "arm-01")?.status ===
              "stopped"
            ? true
            : undefined;
        });
        const refused = await post(`${fleet.url}/api/robots/arm-01/run`, {
          programId: "greet",
        });
        equal(refused.status, 502, JSON.stringify(refused.body));
        equal(refused.body.code, "FAILED_PRECONDITION", refused.body.error);
        match(refused.body.error, /arm-01/);
        const resumed = await post(`${fleet.url}/api/robots/arm-01/resume`);
        equal(resumed.status, 200, JSON.stringify(resumed.body));
        equal(resumed.body.wasStopped, true);
        const again = await post(`${fleet.url}/api/robots/arm-01/run`, {
          programId: "greet",
        });
        equal(again.status, 202, JSON.stringify(again.body));
        await waitFor("the run after the resume", async () => {
          const res = await call(`${fleet.url}/api/runs/${again.body.runId}`);
          return res.status === 200 ? true : undefined;
        });
      },
    );

    await t.step(
      "the repair button repairs: a new signed version on the robot",
      async () => {
        await waitFor("the failed run at the console", async () => {
          const res = await call(`${fleet.url}/api/runs/${failedRunId}`);
          return res.status === 200 ? true : undefined;
        });
        const started = await post(
          `${fleet.url}/api/runs/${failedRunId}/repair`,
        );
        equal(started.status, 202, JSON.stringify(started.body));
        equal(started.body.state, "running");
        equal(
          started.headers.get("location"),
          `/api/repairs/${started.body.id}`,
        );
        const job: RepairJob = await waitFor("the repair to end", async () => {
          const { body } = await call(
            `${fleet.url}/api/repairs/${started.body.id}`,
          );
          return body.state === "running" ? undefined : body;
        }, 60_000);
        equal(job.state, "succeeded", job.error ?? "");
        equal(job.programId, "grab");
        ok(job.version! > 1);
        equal(job.attempts, 1);
        equal(job.source, REPAIRED);
        match(job.delivery!, /accepted "grab"/);
        // The model saw the field failure as its first feedback.
        const feedback = model.requests[0]!.messages.map((m) => m.content)
          .join("\n");
        ok(feedback.includes("precondition_violated"));
        ok(feedback.includes(failedRunId));
        // The robot holds the new version, and it runs from the console.
        const programs = await client.list();
        equal(
          programs.find((p) => p.programId === "grab")?.version,
          job.version,
        );
        const run = await post(`${fleet.url}/api/robots/arm-01/run`, {
          programId: "grab",
        });
        equal(run.status, 202, JSON.stringify(run.body));
        const record = await waitFor("the repaired run", async () => {
          const res = await call(`${fleet.url}/api/runs/${run.body.runId}`);
          return res.status === 200 ? res.body : undefined;
        });
        equal(record.outcome, "succeeded");
        equal(record.program.version, job.version);
      },
    );
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("a robot announces grpc.advertise instead of the address it listens on", async () => {
  const key = await makeKey();
  try {
    await using broker = await startMosquitto();
    await using fleet = await startFleetConsole({
      broker: broker.url,
      listen: "127.0.0.1:0",
      db: `${key.dir}/fleet.db`,
      connections: 1,
    });
    await using _robot = await startNode(key, {
      config: {
        robotId: "arm-05",
        grpc: { listen: "127.0.0.1:0", advertise: "arm-05.lab.example:50051" },
        mqtt: { url: broker.url, heartbeatMs: 200 },
      },
    });
    const row = await waitFor("arm-05's announced address", async () => {
      const { body } = await call(`${fleet.url}/api/robots`);
      const arm = body.find((r: _Json) => r.robotId === "arm-05");
      return arm?.grpc ? arm : undefined;
    });
    equal(row.grpc.address, "arm-05.lab.example:50051");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
