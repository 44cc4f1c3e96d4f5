import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../test/_assert.ts";
import { makeKey, signed, startNode } from "../test/_edge_fixture.ts";
import { freePort } from "../test/_mosquitto.ts";
import { deliverToRobots } from "./deliver_to_robots.ts";

Deno.test("deliverToRobots delivers to two robots over gRPC and runs the program on each", async () => {
  const key = await makeKey();
  try {
    await using a = await startNode(key, { stateDir: `${key.dir}/a` });
    await using b = await startNode(key, { stateDir: `${key.dir}/b` });
    const envelope = await signed(key, {
      checks: ['detect("red block")[0].on === "blue_bowl"'],
    });
    const targets = [
      `127.0.0.1:${a.grpc.port}`,
      `127.0.0.1:${b.grpc.port}`,
    ];
    // The first robot's id is given, the second one is asked for it.
    const results = await deliverToRobots(envelope, targets, {
      run: true,
      operator: {
        privateJwk: key.privateJwk,
        keyId: key.keyId,
        robotIds: { [targets[0]!]: "arm-01" },
      },
    });
    assertEquals(results.map((r) => r.target), targets);
    for (const r of results) {
      assert(r.ok, r.message);
      assertEquals(r.receipt?.accepted, true);
      assertEquals(r.receipt?.keyId, "k1");
      assertEquals(r.evidence?.outcome, "succeeded");
      assertEquals(r.evidence?.checks.map((c) => c.ok), [true]);
      assertEquals(r.evidence?.program.programId, "pick-red");
      assertStringIncludes(r.message, "succeeded");
    }

    // Without run: stored, not run; a byte-identical re-delivery is idempotent.
    const again = await deliverToRobots(envelope, targets.slice(0, 1));
    assertEquals(again[0]?.ok, true, again[0]?.message);
    assertEquals(again[0]?.evidence, null);
    assertEquals(again[0]?.receipt?.idempotent, true);
    assertEquals(a.service.list().length, 1);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("deliverToRobots reports a refusing and an unreachable robot without failing the others", async () => {
  const key = await makeKey();
  const stranger = await makeKey("k-stranger");
  try {
    await using node = await startNode(key);
    const target = `127.0.0.1:${node.grpc.port}`;
    const nobody = `127.0.0.1:${freePort()}`;
    const untrusted = await signed(stranger);
    const results = await deliverToRobots(untrusted, [target, nobody], {
      run: true,
    });
    assertEquals(results[0]?.ok, false);
    assertEquals(results[0]?.receipt?.accepted, false);
    assertStringIncludes(results[0]?.message ?? "", "refused");
    assertStringIncludes(results[0]?.message ?? "", "k-stranger");
    assertEquals(results[1]?.ok, false);
    assertEquals(results[1]?.receipt, null);
    assertStringIncludes(
      results[1]?.message ?? "",
      `Cannot deliver to ${nobody}`,
    );
    assertEquals(node.service.list().length, 0);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
    await Deno.remove(stranger.dir, { recursive: true });
  }
});

Deno.test("deliverToRobots refuses a malformed target before contacting any robot", async () => {
  const error = await assertRejects(
    () => deliverToRobots("{}", ["127.0.0.1:1", "no-port"]),
    TypeError,
  );
  assertStringIncludes(
    error.message,
    'Cannot deliver to "no-port": expected host:port',
  );
});

Deno.test("deliverToRobots with run but no operator key: the robot accepts the program but refuses to run it", async () => {
  const key = await makeKey();
  try {
    await using node = await startNode(key);
    const target = `127.0.0.1:${node.grpc.port}`;
    const results = await deliverToRobots(await signed(key), [target], {
      run: true,
    });
    assertEquals(results[0]?.ok, false);
    assertEquals(results[0]?.evidence, null);
    assertStringIncludes(results[0]?.message ?? "", "PERMISSION_DENIED");
    assertEquals(node.service.listRuns().runs.length, 0);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("deliverToRobots signs the run command for the robot id given: another robot's command is refused", async () => {
  const key = await makeKey();
  try {
    await using node = await startNode(key);
    const target = `127.0.0.1:${node.grpc.port}`;
    const results = await deliverToRobots(await signed(key), [target], {
      run: true,
      operator: {
        privateJwk: key.privateJwk,
        keyId: key.keyId,
        robotIds: { [target]: "arm-99" },
      },
    });
    assertEquals(results[0]?.ok, false);
    assertEquals(results[0]?.evidence, null);
    assertStringIncludes(results[0]?.message ?? "", "PERMISSION_DENIED");
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
