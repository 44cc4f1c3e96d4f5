import { equal, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startMosquitto } from "./_mosquitto.ts";
import {
  commandFor,
  makeKey,
  operatorKeyFile,
  signed,
  startNode,
} from "./_edge_fixture.ts";
import { startFakeOpenAiServer } from "./_fake_openai_server.ts";
import { waitFor } from "./_fleet_fixture.ts";

const _REPO = fileURLToPath(new URL("..", import.meta.url));

Deno.test("deno task fleet serves the console on the given address and stops on SIGTERM", async () => {
  await using broker = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-task-" });
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "--quiet",
        "fleet",
        "--broker",
        broker.url,
        "--listen",
        "127.0.0.1:0",
        "--db",
        `${dir}/fleet.db`,
      ],
      cwd: _REPO,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      url = /fleet console on (http:\/\/\S+)/.exec(text)?.[1];
    }
    ok(url, `no "fleet console on" line in: ${text}`);
    const page = await fetch(url);
    equal(page.status, 200);
    ok((await page.text()).includes("cap-edge fleet"));
    const robots = await fetch(`${url}/api/robots`);
    equal(robots.status, 200);
    await robots.body?.cancel();
    child.kill("SIGTERM");
    const status = await child.status;
    while (!(await lines.read()).done) {
      // drain stderr
    }
    equal(status.code, 0);
    const usage = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "fleet", "--listen", "127.0.0.1:0"],
      cwd: _REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    equal(usage.code, 2);
    ok(new TextDecoder().decode(usage.stderr).includes("--broker"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task fleet with --operator-key and --signing-key repairs a run under the task's own permissions", async () => {
  await using broker = await startMosquitto();
  const key = await makeKey();
  try {
    await using model = startFakeOpenAiServer([
      {
        content:
          '```js\nif (holding() === null) pick("red_block");\nplace("blue_bowl");\n```',
      },
    ]);
    await using robot = await startNode(key, {
      config: { mqtt: { url: broker.url, heartbeatMs: 200 } },
    });
    const keyFile = await operatorKeyFile(key);
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "fleet", ...args],
        cwd: _REPO,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { OPENAI_BASE_URL: "", OPENAI_API_KEY: "" },
      });
    const usage = await run([
      "--broker",
      broker.url,
      "--llm-url",
      model.baseURL,
    ]).output();
    equal(usage.code, 2);
    ok(new TextDecoder().decode(usage.stderr).includes("--signing-key"));

    const child = run([
      "--broker",
      broker.url,
      "--listen",
      "127.0.0.1:0",
      "--db",
      `${key.dir}/fleet.db`,
      "--operator-key",
      keyFile,
      "--signing-key",
      keyFile,
      "--llm-url",
      model.baseURL,
      "--llm-model",
      "fake",
    ]).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    const drained = child.stdout.cancel();
    let text = "";
    let url: string | undefined;
    while (url === undefined) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
      url = /fleet console on (http:\/\/\S+)/.exec(text)?.[1];
    }
    try {
      ok(url, `no "fleet console on" line in: ${text}`);
      // Run after the console subscribed: the broker queues it for the console.
      const { evidence: failed } = await robot.service.deliver(
        await signed(key, {
          programId: "grab",
          source: 'pick("red_block");\npick("blue_bowl");',
        }),
        {
          run: true,
          command: await commandFor(key, "arm-01", {
            command: "run",
            programId: "grab",
            version: 1,
          }),
        },
      );
      const features = await (await fetch(`${url}/api/console`)).json();
      equal(features.operatorKey, true);
      equal(features.repair, true);
      await waitFor("the failed run and the robot's address", async () => {
        const res = await fetch(`${url}/api/runs/${failed!.runId}`);
        await res.body?.cancel();
        const robots = await (await fetch(`${url}/api/robots`)).json();
        return res.ok && robots[0]?.grpc?.address ? true : undefined;
      });
      const started = await (await fetch(
        `${url}/api/runs/${failed!.runId}/repair`,
        { method: "POST" },
      )).json();
      const job = await waitFor("the repair to end", async () => {
        const body = await (await fetch(`${url}/api/repairs/${started.id}`))
          .json();
        return body.state === "running" ? undefined : body;
      }, 60_000);
      equal(job.state, "succeeded", `${job.error}\n${text}`);
      const programs = await robot.service.list();
      ok(programs.some((p) => p.programId === "grab" && p.version > 1));
    } finally {
      child.kill("SIGTERM");
      await child.status;
      while (!(await lines.read()).done) {
        // drain stderr
      }
      await drained;
    }
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
