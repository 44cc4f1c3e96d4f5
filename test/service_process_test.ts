/**
 * The edge service as a real process, started the way `deno task start`
 * starts it (the task's own permission flags): the embedded default, bad
 * configurations, SIGTERM while a program spins, offline runs of the cache
 * after a restart, and schedules that run without any client.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import { EdgeClient, type WireRunEvent } from "../runtime/grpc/mod.ts";
import { ProgramCache } from "../runtime/service/mod.ts";
import { clientFor, makeKey, signed } from "./_edge_fixture.ts";
import { freePort } from "./_mosquitto.ts";
import { ServiceProcess, writeConfig } from "./_service_process.ts";

function isPortFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("deno task start without a config serves the embedded default on 127.0.0.1:50051, warning that it has no trust store", async (t) => {
  if (!isPortFree(50051)) {
    console.warn("skipped: port 50051 is in use on this machine");
    return;
  }
  const cwd = await Deno.makeTempDir({ prefix: "cap-edge-default-" });
  try {
    await using service = ServiceProcess.taskFlagsIn(cwd, []);
    assertEquals(await service.serving(), "127.0.0.1:50051");
    await t.step("it answers on the default port", async () => {
      using client = new EdgeClient("127.0.0.1:50051");
      assertEquals(await client.health(), "SERVING");
      assertEquals(await client.list(), []);
    });
    const warning = service.logs.find((l) => l.level === "warn");
    assertStringIncludes(
      warning?.msg,
      `no trust store at "${cwd}/.state/trust.json"`,
    );
    assertStringIncludes(service.stderr, '"stateDir":"' + cwd + '/.state"');
    assertEquals(await service.terminate(), 0, service.stderr);
    assert((await Deno.stat(`${cwd}/.state/cache.sqlite`)).isFile);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("a bad configuration exits 2 with a message naming the problem", async () => {
  const key = await makeKey();
  try {
    const cases: [string, string, string][] = [
      ["malformed JSON", '{"robotId": "arm-07",', "not valid JSON"],
      [
        "grpc.listen is not host:port",
        JSON.stringify({
          robotId: "arm-07",
          stateDir: `${key.dir}/state`,
          grpc: { listen: "nope" },
          trustStore: key.trustPath,
          backend: { kind: "sim" },
        }),
        'grpc.listen: must be "host:port"',
      ],
    ];
    for (const [name, text, message] of cases) {
      const path = `${key.dir}/bad.json`;
      await Deno.writeTextFile(path, text);
      await using service = ServiceProcess.task(["--config", path]);
      assertEquals(await service.exited(), 2, `${name}: ${service.stderr}`);
      assertStringIncludes(service.stderr, `configuration "${path}"`, name);
      assertStringIncludes(service.stderr, message, name);
    }
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("SIGTERM stops a spinning program safely; after a restart the cache runs offline and schedules run on their own", async (t) => {
  const key = await makeKey();
  const port = freePort();
  try {
    const config = await writeConfig(key, port);
    const target = `127.0.0.1:${port}`;

    await t.step(
      "SIGTERM while a program spins: evidence `stopped`, exit 0",
      async () => {
        await using service = ServiceProcess.task(["--config", config]);
        assertEquals(await service.serving(), target);
        using client = clientFor(target, key, "arm-07");
        for (
          const [programId, source] of [
            ["spin", 'say("go");\nwhile (true) {}'],
            ["hello", 'say("hello");'],
          ] as const
        ) {
          const { receipt } = await client.deliver(
            await signed(key, { programId, source }),
          );
          assertEquals(receipt.accepted, true, receipt.message);
        }
        const { promise: spinning, resolve } = Promise.withResolvers<void>();
        const events: WireRunEvent[] = [];
        const run = client.run("spin", {
          onEvent: (event) => {
            events.push(event);
            if (event.type === "skill_ended") resolve();
          },
        });
        await spinning;
        const code = service.terminate();
        const evidence = await run;
        // Idle channels are closed before the service goes away (Deno 2.9's
        // HTTP/2 client can abort on a GOAWAY over an idle connection).
        client.close();
        assertEquals(evidence.outcome, "stopped");
        assertEquals(evidence.failure?.label, "estop");
        assertEquals(events.at(-1)?.type, "run_ended");
        assertEquals(await code, 0, service.stderr);
        assertStringIncludes(service.stderr, "received SIGTERM");
        assertStringIncludes(service.stderr, "stopping the running program");
      },
    );

    await t.step(
      "restart: the cached program is listed and runs with no re-delivery",
      async () => {
        await using service = ServiceProcess.task(["--config", config]);
        assertEquals(await service.serving(), target);
        using client = clientFor(target, key, "arm-07");
        assertEquals(
          (await client.list()).map((p) => p.programId),
          ["hello", "spin"],
        );
        const evidence = await client.run("hello");
        assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
        assertEquals(evidence.calls.map((c) => c.skill), ["say"]);
        client.close();
        assertEquals(await service.terminate(), 0, service.stderr);
      },
    );

    await t.step(
      "a schedule runs the cached program without any client",
      async () => {
        const scheduled = await writeConfig(key, port, {
          schedule: [
            { programId: "hello", atStart: true },
            { programId: "hello", everySeconds: 1 },
          ],
        });
        await using service = ServiceProcess.task(["--config", scheduled]);
        // One run at start, then one from the 1 s timer.
        await service.waitFor(
          "two scheduled runs of hello",
          (p) =>
            p.logs.filter((l) => /of "hello" v1: succeeded$/.test(l.msg))
              .length >= 2,
        );
        assertEquals(await service.terminate(), 0, service.stderr);
      },
    );

    using cache = ProgramCache.open(`${key.dir}/state/cache.sqlite`);
    const runs = cache.recentEvidence(100).map((e: EvidenceRecord) => [
      e.program.programId,
      e.outcome,
    ]);
    assertEquals(runs.filter(([id]) => id === "spin"), [["spin", "stopped"]]);
    const hellos = runs.filter(([id]) => id === "hello");
    assert(hellos.length >= 3, JSON.stringify(runs));
    assert(hellos.every(([, outcome]) => outcome === "succeeded"));
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
