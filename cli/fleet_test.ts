import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { freePort, startMosquitto } from "../test/_mosquitto.ts";
import { connectProbe } from "../test/_mqtt_probe.ts";
import { fleetCommand } from "./fleet.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    options: {
      write: (text: string) => void out.push(text),
      writeError: (text: string) => void err.push(text),
      isTty: false,
    },
  };
}

Deno.test("cap fleet --once prints the retained state of every robot", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url);
  await probe.publish("cap/v1/robots/arm-01/status", "online", {
    retain: true,
  });
  await probe.publish("cap/v1/robots/arm-02/status", "offline", {
    retain: true,
  });
  await probe.publish("other/robots/arm-03/status", "online", { retain: true });

  const json = capture();
  const code = await fleetCommand(
    ["--broker", broker.url, "--once", "--json"],
    json.options,
  );
  assertEquals(code, 0, json.err.join(""));
  const robots = JSON.parse(json.out.join(""));
  assertEquals(
    robots.map((
      r: { robotId: string; status: string },
    ) => [r.robotId, r.status]),
    [["arm-01", "online"], ["arm-02", "offline"]],
  );

  const table = capture();
  assertEquals(
    await fleetCommand(
      ["--broker", broker.url, "--prefix", "other", "--once"],
      table.options,
    ),
    0,
  );
  const lines = table.out.join("").trimEnd().split("\n");
  assert(lines[0]!.startsWith("ROBOT"), lines[0]!);
  assert(lines[1]!.startsWith("arm-03") && lines[1]!.includes("online"));
  assertEquals(lines.length, 2);
});

Deno.test("cap fleet redraws as messages arrive until aborted", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url);
  const io = capture();
  const controller = new AbortController();
  const running = fleetCommand(["--broker", broker.url], {
    ...io.options,
    signal: controller.signal,
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !io.out.join("").includes("run-9")) {
    // Repeat until the command's subscription is in place (no retained evidence).
    await probe.publish(
      "cap/v1/robots/arm-01/evidence",
      JSON.stringify({
        runId: "run-9",
        outcome: "failed",
        failure: { label: "grasp_failed" },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  controller.abort();
  assertEquals(await running, 0);
  const text = io.out.join("");
  assert(text.includes("run-9 failed"), text);
  assert(text.includes("grasp_failed:1"), text);
  assert(!text.includes("\x1b[2J"), "no ANSI when not a terminal");
});

Deno.test("cap fleet rejects bad usage and reports an unreachable broker", async () => {
  for (
    const args of [
      [],
      ["--broker"],
      ["--broker", "http://x"],
      ["--broker", "mqtt://x", "--bogus"],
      ["--broker", "mqtt://x", "extra"],
      ["--broker", "mqtt://x", "--prefix", "a/#"],
      ["--broker", "mqtt://x", "--wait-ms", "soon"],
    ]
  ) {
    const io = capture();
    assertEquals(await fleetCommand(args, io.options), 2, args.join(" "));
    assert(io.err.join("").includes("Usage:"));
  }
  const help = capture();
  assertEquals(await fleetCommand(["--help"], help.options), 0);
  assert(help.out.join("").includes("--broker"));

  const io = capture();
  const url = `mqtt://127.0.0.1:${freePort()}`;
  assertEquals(await fleetCommand(["--broker", url, "--once"], io.options), 1);
  assert(io.err.join("").includes("cannot connect"), io.err.join(""));
});
