/**
 * The operator's command line as a subprocess (`cli/cap.ts`, as `deno task
 * cap` runs it): usage errors, several robots in one command, run history,
 * evidence as MCAP, the world estimate, `cap init`.
 * @module
 */
import { McapIndexedReader, TempBuffer } from "@mcap/core";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { EdgeClient } from "../runtime/grpc/mod.ts";
import { parseServiceConfig } from "../runtime/mod.ts";
import {
  clientFor,
  makeKey,
  operatorKeyFile,
  signed,
  startNode,
} from "./_edge_fixture.ts";
import { freePort } from "./_mosquitto.ts";
import { runCap, type RunResult, showRun as show } from "./_run_cli.ts";

function cap(...args: string[]): Promise<RunResult> {
  return runCap(args);
}

Deno.test("cap: --version, did-you-mean, repeated flags are exit 2", async () => {
  const version = await cap("--version");
  assertEquals(version.code, 0, show(version));
  assert(/^cap \d+\.\d+\.\d+ /.test(version.stdout), show(version));

  const typo = await cap("stpo", "--to", "127.0.0.1:1");
  assertEquals(typo.code, 2, show(typo));
  assertStringIncludes(typo.stderr, 'did you mean "stop"?');

  const flag = await cap("run", "examples/stack_blocks.js", "--wrold", "x");
  assertEquals(flag.code, 2, show(flag));
  assertStringIncludes(
    flag.stderr,
    "unknown option --wrold; did you mean --world?",
  );

  const twice = await cap(
    "run",
    "examples/stack_blocks.js",
    "--timeout-ms",
    "100",
    "--timeout-ms",
    "200",
  );
  assertEquals(twice.code, 2, show(twice));
  assertStringIncludes(twice.stderr, "--timeout-ms was given twice");

  const reason = await cap(
    "stop",
    "--to",
    "127.0.0.1:1",
    "--reason",
    "a",
    "--reason",
    "b",
  );
  assertEquals(reason.code, 2, show(reason));
});

Deno.test("cap: every command's help names its options and exit codes", async () => {
  const help = await cap("--help");
  assertEquals(help.code, 0, show(help));
  const names = [...help.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) =>
    m[1]!
  );
  assert(names.length >= 15, show(help));
  for (const name of names) {
    const one = await cap(name, "--help");
    assertEquals(one.code, 0, `${name}: ${show(one)}`);
    assertStringIncludes(one.stdout, "Usage", name);
    assertStringIncludes(one.stdout, "Exit", name);
    assert(/--[a-z]/.test(one.stdout), `${name} lists no option`);
  }
});

Deno.test("cap: an unreachable robot is one plain line, no gRPC internals", async () => {
  const to = `127.0.0.1:${freePort()}`;
  const list = await cap("list", "--to", to);
  assertEquals(list.code, 1, show(list));
  assertEquals(list.stderr.trim().split("\n").length, 1, show(list));
  assertStringIncludes(
    list.stderr,
    `cap list: cannot list the programs on ${to}: the robot is not reachable`,
  );
  for (const internal of ["listPrograms", "UNAVAILABLE", "Resolution note"]) {
    assert(!list.stderr.includes(internal), show(list));
  }
});

Deno.test("cap keygen --out keys/ prints clean paths; keys/ is git-ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-keygen-" });
  try {
    const keygen = await cap("keygen", "--out", `${dir}/keys/`);
    assertEquals(keygen.code, 0, show(keygen));
    assert(!keygen.stdout.includes("//"), show(keygen));
    assertStringIncludes(keygen.stdout, `${dir}/keys/private.jwk.json`);
    const ignore = await Deno.readTextFile(
      new URL("../.gitignore", import.meta.url),
    );
    for (const line of ["keys/", ".cap/", ".state/"]) {
      assert(ignore.split("\n").includes(line), `.gitignore lacks ${line}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap init makes a key, a trust store and a config the service accepts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-init-" });
  try {
    const port = freePort();
    const init = await cap(
      "init",
      "--dir",
      `${dir}/setup/`,
      "--listen",
      `127.0.0.1:${port}`,
    );
    assertEquals(init.code, 0, show(init));
    assertStringIncludes(
      init.stdout,
      `deno task start --config ${dir}/setup/config.json`,
    );
    assertStringIncludes(init.stdout, "deno task cap send");
    const config = JSON.parse(
      await Deno.readTextFile(`${dir}/setup/config.json`),
    );
    assertEquals(config.mqtt.url, "mqtt://127.0.0.1:1883");
    assertEquals(config.grpc.listen, `127.0.0.1:${port}`);
    // The service reads it as written (paths relative to the config's folder).
    const parsed = parseServiceConfig(config, { baseDir: `${dir}/setup` });
    assertEquals(parsed.trustStore, `${dir}/setup/trust.json`);
    assert(parsed.stateDir.endsWith("/.state/local-arm"), parsed.stateDir);
    const trust = JSON.parse(
      await Deno.readTextFile(`${dir}/setup/trust.json`),
    );
    assert(trust.keys[0].roles.includes("operator"), JSON.stringify(trust));
    const key = await Deno.stat(`${dir}/setup/keys/private.jwk.json`);
    assertEquals(
      (key.mode ?? 0) & 0o077,
      0,
      "the private key is readable by others",
    );
    const again = await cap("init", "--dir", `${dir}/setup`);
    assertEquals(again.code, 1, show(again));
    assertStringIncludes(again.stderr, "exists already");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cap stop --to A --to B stops both robots; one unreachable robot fails the command", async () => {
  const key = await makeKey("ops");
  await using a = await startNode(key, { stateDir: `${key.dir}/a` });
  await using b = await startNode(key, { stateDir: `${key.dir}/b` });
  const toA = `127.0.0.1:${a.grpc.port}`;
  const toB = `127.0.0.1:${b.grpc.port}`;
  try {
    const both = await cap(
      "stop",
      "--to",
      toA,
      "--to",
      toB,
      "--reason",
      "drill",
    );
    assertEquals(both.code, 0, show(both));
    assertEquals(a.service.state, "stopped");
    assertEquals(b.service.state, "stopped");
    assertStringIncludes(both.stdout, `${toA}: stopped`);
    assertStringIncludes(both.stdout, `${toB}: stopped`);

    // Stopping needs nothing; resuming needs the operator's signed command.
    const json = await cap(
      "resume",
      "--to",
      toA,
      "--to",
      toB,
      "--operator-key",
      await operatorKeyFile(key),
      "--json",
    );
    assertEquals(json.code, 0, show(json));
    assertEquals(
      JSON.parse(json.stdout).map((
        r: { robot: string; wasStopped: boolean },
      ) => [r.robot, r.wasStopped]),
      [[toA, true], [toB, true]],
    );

    const dead = `127.0.0.1:${freePort()}`;
    const partial = await cap("stop", "--to", toA, "--to", dead, "--to", toB);
    assertEquals(partial.code, 1, show(partial));
    assertEquals(a.service.state, "stopped");
    assertEquals(b.service.state, "stopped");
    assertStringIncludes(partial.stderr, `cannot stop the robot on ${dead}`);
    assertStringIncludes(
      partial.stderr,
      "1 of 3 robot(s) did not confirm the stop",
    );
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("cap exec shows the run view; cap runs, evidence (--mcap) and world read the history back", async () => {
  const key = await makeKey("ops");
  await using node = await startNode(key, { stateDir: `${key.dir}/state` });
  const to = `127.0.0.1:${node.grpc.port}`;
  try {
    {
      using client = clientFor(to, key, "arm-01");
      const good = await client.deliver(
        await signed(key, { programId: "put-red", version: 1 }),
        { run: true },
      );
      assertEquals(good.evidence?.outcome, "succeeded");
      const bad = await client.deliver(
        await signed(key, {
          programId: "ghost",
          version: 1,
          source: 'pick("ghost");',
        }),
        { run: true },
      );
      assertEquals(bad.evidence?.failure?.label, "invalid_argument");
    }
    // The robot's world now has the red block in the bowl; exec runs put-red again.
    const exec = await cap(
      "exec",
      "put-red",
      "--to",
      to,
      "--operator-key",
      await operatorKeyFile(key),
    );
    assertEquals(exec.code, 0, show(exec));
    assert(/^run \S+ started$/m.test(exec.stdout), show(exec));
    assertStringIncludes(exec.stdout, '  #1 pick("red_block") ok');
    assert(/^run \S+: succeeded$/m.test(exec.stdout), show(exec));
    assert(
      !exec.stdout.includes('{"'),
      `raw JSON in the run view\n${show(exec)}`,
    );

    const runs = await cap("runs", "--to", to, "--json");
    assertEquals(runs.code, 0, show(runs));
    const listed = JSON.parse(runs.stdout).runs as Array<
      { runId: string; programId: string; label: string | null }
    >;
    assertEquals(listed.map((r) => r.programId), [
      "put-red",
      "ghost",
      "put-red",
    ]);

    const labelled = await cap(
      "runs",
      "--to",
      to,
      "--label",
      "invalid_argument",
      "--json",
    );
    assertEquals(
      JSON.parse(labelled.stdout).runs.map((r: { programId: string }) =>
        r.programId
      ),
      ["ghost"],
    );
    const paged = await cap("runs", "--to", to, "--limit", "1");
    assertEquals(paged.code, 0, show(paged));
    assertStringIncludes(paged.stdout, "(more: --page-token ");
    const table = await cap("runs", "--to", to);
    assertStringIncludes(table.stdout, "invalid_argument");
    const badOutcome = await cap("runs", "--to", to, "--outcome", "great");
    assertEquals(badOutcome.code, 2, show(badOutcome));
    assertStringIncludes(badOutcome.stderr, "--outcome");

    const ghostRun = listed[1]!.runId;
    const mcap = `${key.dir}/ghost.mcap`;
    const evidence = await cap(
      "evidence",
      ghostRun,
      "--to",
      to,
      "--json",
      "--mcap",
      mcap,
    );
    assertEquals(evidence.code, 0, show(evidence));
    const record = JSON.parse(evidence.stdout) as EvidenceRecord;
    assertEquals(record.runId, ghostRun);
    assertEquals(record.failure?.label, "invalid_argument");
    const reader = await McapIndexedReader.Initialize({
      readable: new TempBuffer(await Deno.readFile(mcap)),
    });
    const topics = new Map<string, unknown[]>();
    for await (const message of reader.readMessages()) {
      const topic = reader.channelsById.get(message.channelId)!.topic;
      topics.set(topic, [
        ...topics.get(topic) ?? [],
        JSON.parse(new TextDecoder().decode(message.data)),
      ]);
    }
    assertEquals(
      (topics.get("/cap/evidence")![0] as EvidenceRecord).runId,
      ghostRun,
    );
    assertEquals(topics.get("/cap/calls")!.length, record.calls.length);
    assertEquals(
      (topics.get("/cap/world") as Array<{ phase: string }>).map((w) =>
        w.phase
      ),
      ["before", "after"],
    );
    const scenes = topics.get("/cap/scene") as Array<
      { entities: Array<{ id: string; frame_id: string }> }
    >;
    assertEquals(scenes.length, 2);
    assertEquals(
      scenes[0]!.entities.map((e) => e.id).sort(),
      record.worldBefore!.objects.map((o) => o.id).sort(),
    );
    const schemas = [...reader.schemasById.values()].map((x) => x.name);
    assert(schemas.includes("foxglove.Log"), JSON.stringify(schemas));
    assert(schemas.includes("foxglove.SceneUpdate"), JSON.stringify(schemas));
    const events = topics.get("/cap/events") as Array<
      { type: string; label?: string }
    >;
    assertEquals(events[0]?.type, "run_started");
    assertEquals(events.at(-1), {
      runId: ghostRun,
      type: "run_ended",
      outcome: "failed",
      label: "invalid_argument",
      message: record.failure!.message,
    });

    const missing = await cap("evidence", "no-such-run", "--to", to);
    assertEquals(missing.code, 1, show(missing));
    assertStringIncludes(
      missing.stderr,
      'cannot fetch the evidence of run "no-such-run" on',
    );
    assertStringIncludes(missing.stderr, "no run");

    {
      using client = new EdgeClient(to);
      const long =
        "a-program-id-far-longer-than-the-old-twenty-four-column-layout";
      const { receipt } = await client.deliver(
        await signed(key, { programId: long, version: 12345678901 }),
      );
      assertEquals(receipt.accepted, true, receipt.message);
    }
    const list = await cap("list", "--to", to);
    assertEquals(list.code, 0, show(list));
    const rows = list.stdout.trimEnd().split("\n");
    const keyColumn = rows[0]!.indexOf("KEY");
    assert(keyColumn > 0, show(list));
    for (const row of rows.slice(1)) {
      assertEquals(row.slice(keyColumn, keyColumn + 3), "ops", show(list));
    }

    const world = await cap("world", "--to", to, "--json");
    assertEquals(world.code, 0, show(world));
    const answer = JSON.parse(world.stdout);
    assertEquals(answer.robotId, "arm-01");
    assertEquals(answer.state, "online");
    assertEquals(
      answer.world.objects.find((o: { id: string }) => o.id === "red_block").on,
      "blue_bowl",
    );
    const worldText = await cap("world", "--to", to);
    assert(/^red_block +block +red /m.test(worldText.stdout), show(worldText));
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("cap: an unreadable operator key is bad usage, from the flag or CAP_OPERATOR_KEY", async () => {
  const to = `127.0.0.1:${freePort()}`;
  const flag = await cap(
    "resume",
    "--to",
    to,
    "--operator-key",
    "/nonexistent/op.jwk.json",
  );
  assertEquals(flag.code, 2, show(flag));
  assertStringIncludes(flag.stderr, 'operator key "/nonexistent/op.jwk.json"');
  const env = await runCap(["exec", "prog", "--to", to], {
    env: { CAP_OPERATOR_KEY: "/nonexistent/env.jwk.json" },
  });
  assertEquals(env.code, 2, show(env));
  assertStringIncludes(env.stderr, 'operator key "/nonexistent/env.jwk.json"');
});

Deno.test("cap exec and resume sign an operator command with --operator-key", async () => {
  const key = await makeKey("ops");
  await using node = await startNode(key, { stateDir: `${key.dir}/state` });
  const to = `127.0.0.1:${node.grpc.port}`;
  try {
    const keyPath = `${key.dir}/op.jwk.json`;
    await Deno.writeTextFile(
      keyPath,
      JSON.stringify({ ...key.privateJwk, kid: key.keyId }),
    );
    {
      using client = new EdgeClient(to);
      const { receipt } = await client.deliver(
        await signed(key, { programId: "put-red", version: 1 }),
      );
      assertEquals(receipt.accepted, true, receipt.message);
    }
    const exec = await cap(
      "exec",
      "put-red",
      "--to",
      to,
      "--operator-key",
      keyPath,
      "--json",
    );
    assertEquals(exec.code, 0, show(exec));
    assertEquals(JSON.parse(exec.stdout).outcome, "succeeded");
    const stop = await cap("stop", "--to", to);
    assertEquals(stop.code, 0, show(stop));
    const resume = await runCap(["resume", "--to", to, "--robot", "arm-01"], {
      env: { CAP_OPERATOR_KEY: keyPath },
    });
    assertEquals(resume.code, 0, show(resume));
    assertEquals(node.service.state, "online");

    const publicOnly = `${key.dir}/public.jwk.json`;
    const { d: _secret, ...publicJwk } = key.privateJwk as JsonWebKey;
    await Deno.writeTextFile(publicOnly, JSON.stringify(publicJwk));
    const wrong = await cap("resume", "--to", to, "--operator-key", publicOnly);
    assertEquals(wrong.code, 2, show(wrong));
    assertStringIncludes(wrong.stderr, "not an Ed25519 private JWK");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
