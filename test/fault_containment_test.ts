/**
 * Fault containment through the real process boundary: an ordinary Node.js
 * grpc-js client (many calls per connection, cancels, resets) cannot take the
 * service down; a gateway killed during a run comes back while the run
 * finishes with complete evidence; a Stop is answered while heavy programs
 * are being verified.
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { rawClient } from "./_raw_grpc_client.ts";
import {
  EdgeCallError,
  EdgeClient,
  type WireRunEvent,
} from "../runtime/grpc/mod.ts";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  clientFor,
  commandFor,
  makeKey,
  signed,
  startNode,
  withNode,
} from "./_edge_fixture.ts";
import { StateDirInUseError } from "../runtime/service/mod.ts";
import { freePort, startMosquitto } from "./_mosquitto.ts";
import { connectProbe } from "./_mqtt_probe.ts";
import { runCommand } from "./_run_cli.ts";
import {
  PATIENCE_MS,
  ServiceProcess,
  writeConfig,
} from "./_service_process.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLIENT_DIR = `${ROOT}test/fixtures/node_grpc_client`;

/** Installs the Node.js client's packages (grpc-js) once, from its lockfile. */
async function nodeClient(): Promise<void> {
  try {
    await Deno.stat(`${CLIENT_DIR}/node_modules/@grpc/grpc-js/package.json`);
    return;
  } catch {
    // Not installed yet.
  }
  const npm = await runCommand("npm", [
    "ci",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
  ], { cwd: CLIENT_DIR });
  assertEquals(npm.code, 0, `npm ci for the Node.js client: ${npm.stderr}`);
}

async function runNodeClient(
  target: string,
  ...args: string[]
): Promise<{ mode: string; codes: Record<string, number> }> {
  const result = await runCommand("node", [
    `${CLIENT_DIR}/client.mjs`,
    target,
    `${ROOT}protos`,
    ...args,
  ], { cwd: CLIENT_DIR });
  assertEquals(
    result.code,
    0,
    `node client ${args.join(" ")}: ${result.stderr}`,
  );
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!);
}

/** Waits (bounded) until the robot answers a health-checked call again. */
async function answers(target: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    using client = new EdgeClient(target);
    try {
      await client.list();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function gatewayPids(service: ServiceProcess): number[] {
  return service.logs.flatMap((line) => {
    const pid = (line as { gatewayPid?: number }).gatewayPid;
    return /gRPC gateway \(pid \d+\) listening/.test(line.msg) && pid
      ? [pid]
      : [];
  });
}

Deno.test("an ordinary Node.js grpc-js client cannot take the service down: 1000+ calls per connection, cancels, resets", async () => {
  await nodeClient();
  const key = await makeKey();
  const port = freePort();
  const target = `127.0.0.1:${port}`;
  try {
    const config = await writeConfig(key, port);
    await using service = ServiceProcess.task(["--config", config]);
    assertEquals(await service.serving(), target);
    {
      using client = new EdgeClient(target);
      const { receipt } = await client.deliver(
        await signed(key, {
          programId: "chatty",
          source: 'say("a");\nsay("b");\nsay("c");',
        }),
      );
      assertEquals(receipt.accepted, true, receipt.message);
    }
    const rounds = await runNodeClient(target, "rounds", "3", "1200");
    assert(
      (rounds.codes.OK ?? 0) > 0,
      `some calls were answered: ${JSON.stringify(rounds.codes)}`,
    );
    await answers(target);
    // Each Run carries its own operator command (a nonce is single-use).
    const commands = `${key.dir}/commands.json`;
    await Deno.writeTextFile(
      commands,
      JSON.stringify(
        await Promise.all(
          Array.from(
            { length: 20 },
            () =>
              commandFor(key, "arm-07", {
                command: "run",
                programId: "chatty",
              }),
          ),
        ),
      ),
    );
    const cancels = await runNodeClient(
      target,
      "cancel",
      "chatty",
      "20",
      commands,
    );
    assert(Object.keys(cancels.codes).length > 0, JSON.stringify(cancels));
    assertEquals(
      cancels.codes.PERMISSION_DENIED,
      undefined,
      JSON.stringify(cancels),
    );
    await answers(target);
    const resets = await runNodeClient(target, "reset", "30");
    assertEquals(resets.codes.OK, 30, JSON.stringify(resets));
    await answers(target);

    // The core itself never died: same process, still serving, no exit.
    const exited = await Promise.race([
      service.status.then(() => true),
      Promise.resolve(false),
    ]);
    assertEquals(exited, false, service.stderr);
    using client = new EdgeClient(target);
    assertEquals((await client.list()).map((p) => p.programId), ["chatty"]);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("a gateway killed with SIGKILL during a run comes back; the run finishes and its evidence is complete", async () => {
  await using broker = await startMosquitto();
  const key = await makeKey();
  const port = freePort();
  const target = `127.0.0.1:${port}`;
  try {
    const config = await writeConfig(key, port, {
      mqtt: { url: broker.url, heartbeatMs: 60_000 },
    });
    await using probe = await connectProbe(broker.url, {
      subscribe: ["cap/v1/robots/arm-07/evidence"],
    });
    await using service = ServiceProcess.task(["--config", config]);
    assertEquals(await service.serving(), target);
    using client = clientFor(target, key, "arm-07");
    const { receipt } = await client.deliver(
      await signed(key, {
        programId: "slow",
        source: 'say("go");\nwait(1);\nsay("done");',
      }),
    );
    assertEquals(receipt.accepted, true, receipt.message);
    const [gateway] = gatewayPids(service);
    assert(
      gateway !== undefined,
      `the gateway's pid is logged: ${service.stderr}`,
    );

    const { promise: started, resolve } = Promise.withResolvers<string>();
    const run = client.run("slow", {
      onEvent: (event: WireRunEvent) => {
        if (event.type === "skill_ended") resolve(event.runId);
      },
    }).then(() => "answered", () => "dropped");
    const runId = await started;
    Deno.kill(gateway, "SIGKILL");
    assertEquals(await run, "dropped");

    await service.waitFor(
      "a new gateway",
      (s) => gatewayPids(s).some((pid) => pid !== gateway),
    );
    await answers(target);
    await probe.waitFor(
      (messages) => messages.some((m) => JSON.parse(m.text).runId === runId),
      `the evidence of run ${runId}`,
      PATIENCE_MS,
    );
    const evidence: EvidenceRecord = JSON.parse(
      probe.messages.find((m) => JSON.parse(m.text).runId === runId)!
        .text,
    );
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    assertEquals(evidence.calls.map((c) => c.skill), ["say", "wait", "say"]);
    assert(
      service.logs.some((l) => /gRPC gateway .*exited/.test(l.msg)),
      "the gateway's death is logged",
    );
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("a gateway restarted while its port is taken gives up, and the next one serves once the port is free", async () => {
  await withNode(async (node) => {
    const { port } = node.grpc;
    Deno.kill(node.grpc.pid, "SIGKILL");
    // Take the port before the core's restart (50 ms after the death) binds it.
    let squatter: Deno.TcpListener | null = null;
    for (let i = 0; squatter === null; i++) {
      try {
        squatter = Deno.listen({ hostname: "127.0.0.1", port });
      } catch (error) {
        if (i > 500) throw error;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    }
    try {
      // A restart that cannot bind ends, and counts: it does not linger deaf.
      const deadline = Date.now() + PATIENCE_MS;
      while (node.grpc.restarts < 2) {
        assert(
          Date.now() < deadline,
          `the restarted gateway never gave up (restarts: ${node.grpc.restarts})`,
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      squatter.close();
    }
    await answers(`127.0.0.1:${port}`);
  });
});

Deno.test("a request as large as grpc.maxMessageBytes allows reaches the core and is refused there; the gateway stays", async () => {
  await withNode(async (node, client) => {
    // 55 MB: as base64 on the gateway's line, more than 64 MiB.
    const huge = `{"payloadType":"x","payload":"${"A".repeat(55_000_000)}"}`;
    const receipt = await client.validate(huge);
    assertEquals(receipt.accepted, false);
    assert(/too large|bytes/i.test(receipt.message), receipt.message);
    assertEquals(node.grpc.restarts, 0, "the gateway was ended");
  }, {
    grpc: { listen: "127.0.0.1:0", maxMessageBytes: 64 * 1024 * 1024 },
  });
});

Deno.test("a Stop whose reason grows sixfold as JSON still stops the robot, and the gateway stays", async () => {
  await withNode(async (node, client) => {
    // 11.5 MB of control characters: \u0001 each on the line, 69 MB.
    await client.stop("\u0001".repeat(11_500_000));
    assertEquals(node.service.state, "stopped");
    assertEquals(node.grpc.restarts, 0, "the gateway was ended");
    // Any other call's text is bounded: refused, not forwarded.
    using anyone = new EdgeClient(`127.0.0.1:${node.grpc.port}`);
    const refused = await assertRejects(
      () => anyone.run("p".repeat(40_000)),
      EdgeCallError,
    );
    assertEquals(refused.code, "INVALID_ARGUMENT");
    assertEquals(node.grpc.restarts, 0);
    assertEquals((await client.resume()).wasStopped, true);
  }, { grpc: { listen: "127.0.0.1:0", maxMessageBytes: 16 * 1024 * 1024 } });
});

/** An accepted program of about 64 KiB: many detects and picks. */
function heavyProgram(): string {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < 60_000; i++) {
    lines.push(
      `const b${i} = detect("red block");`,
      `if (b${i}.length > 0 && holding() === null) { say("seen " + b${i}[0].id); }`,
    );
  }
  return lines.join("\n");
}

Deno.test("a Stop is answered while heavy 64 KiB programs are being verified", async () => {
  const key = await makeKey();
  const port = freePort();
  const target = `127.0.0.1:${port}`;
  try {
    const config = await writeConfig(key, port);
    await using service = ServiceProcess.task(["--config", config]);
    assertEquals(await service.serving(), target);
    using control = clientFor(target, key, "arm-07");
    const { receipt } = await control.deliver(
      await signed(key, {
        programId: "spin",
        source: 'say("go");\nwhile (true) {}',
      }),
    );
    assertEquals(receipt.accepted, true, receipt.message);
    const heavy = await signed(key, {
      programId: "heavy",
      source: heavyProgram(),
    });
    const { promise: spinning, resolve } = Promise.withResolvers<void>();
    const run = control.run("spin", {
      onEvent: (event) => {
        if (event.type === "skill_ended") resolve();
      },
    });
    await spinning;

    const order: string[] = [];
    const validators = [0, 1, 2].map(() => new EdgeClient(target));
    try {
      // Warm the channels so that the validations go out at once.
      await Promise.all(validators.map((v) => v.list()));
      const validations = validators.map((v) =>
        v.validate(heavy).then((r) => {
          order.push("validated");
          return r;
        })
      );
      // Let the validations reach the core first.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const stopped = control.stop("test stop").then(() => {
        order.push("stopped");
      });
      const reports = await Promise.all(validations);
      await stopped;
      for (const report of reports) {
        assertEquals(report.accepted, true, report.message);
      }
      assertEquals(order[0], "stopped", `order of answers: ${order}`);
    } finally {
      validators.forEach((v) => v.close());
    }
    const evidence = await run;
    assertEquals(evidence.failure?.label, "estop");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("a request with an integer past 2^53 is refused INVALID_ARGUMENT, naming the field; the gateway stays", async () => {
  await withNode(async (node) => {
    const stub = rawClient(`127.0.0.1:${node.grpc.port}`);
    try {
      const listed = await new Promise<grpc.ServiceError | null>((resolve) =>
        stub.listRuns({ pageToken: "9999999999999999" }, resolve)
      );
      assertEquals(listed?.code, grpc.status.INVALID_ARGUMENT, listed?.details);
      assert(/page_token/.test(listed?.details ?? ""), listed?.details);
      const ran = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = stub.run({ programId: "x", version: 2 ** 60 });
        call.on("data", () => {});
        call.on("error", resolve);
        call.on("end", () => resolve(null));
      });
      assertEquals(ran?.code, grpc.status.INVALID_ARGUMENT, ran?.details);
      assert(/version/.test(ran?.details ?? ""), ran?.details);
      assertEquals(node.grpc.restarts, 0, "the gateway was ended");
    } finally {
      stub.close();
    }
  });
});

Deno.test("a second core on a state directory in use is refused before it touches the first one's runs", async () => {
  await withNode(async (node, client, key) => {
    await client.deliver(
      await signed(key, {
        programId: "waiter",
        source: 'say("a");\nwait(3);\nsay("b");',
      }),
    );
    const running = client.run("waiter");
    const deadline = Date.now() + PATIENCE_MS;
    while (node.service.currentRunId === null) {
      assert(Date.now() < deadline, "the run did not start");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await assertRejects(
      () =>
        startNode(key).then(async (second) => {
          await second[Symbol.asyncDispose]();
        }),
      StateDirInUseError,
    );
    const evidence = await running;
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    // One record of the run, its own: none made up by the second core.
    const runs = node.service.listRuns({}).runs.filter((run) =>
      run.runId === evidence.runId
    );
    assertEquals(runs.map((run) => run.outcome), ["succeeded"]);
  });
});

Deno.test("a gateway that stops answering (frozen, not dead) is replaced, and Stop works again", async () => {
  await withNode(async (node, client) => {
    const frozen = node.grpc.pid;
    Deno.kill(frozen, "SIGSTOP");
    try {
      const deadline = Date.now() + PATIENCE_MS;
      while (node.grpc.restarts === 0) {
        assert(Date.now() < deadline, "the frozen gateway was not replaced");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await answers(`127.0.0.1:${node.grpc.port}`);
      assert(node.grpc.pid !== frozen);
      await client.stop("after the freeze");
      assertEquals(node.service.state, "stopped");
    } finally {
      try {
        Deno.kill(frozen, "SIGKILL");
      } catch {
        // Ended by the core already.
      }
    }
  });
});
